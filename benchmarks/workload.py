"""The benchmark's inputs: deterministic tool sets of any size, and tool-call prompts.

Every figure in the benchmark is measured on these, so two runs (or two machines) compare
like with like. Nothing here is timed.
"""

from __future__ import annotations

import json
import random

__all__ = ["E2E_TOOLS", "E2E_PROMPTS", "call_schema", "make_tools"]

_DOMAINS = ["crm", "hr", "billing", "support", "iot", "fleet", "cms", "lms", "analytics", "inventory"]
_VERBS = ["get", "list", "create", "update", "delete", "search", "export", "archive", "assign", "sync"]
_OBJECTS = ["contact", "invoice", "ticket", "device", "vehicle", "article", "course", "report", "item",
            "employee", "order", "alarm"]
_STATUSES = [["open", "pending", "closed"], ["draft", "published", "archived"],
             ["active", "suspended", "cancelled", "trial"], ["low", "medium", "high", "urgent"]]


def _param_pool(obj: str, rng: random.Random) -> dict[str, dict]:
    return {
        f"{obj}_id": {"type": "string", "maxLength": 24, "description": f"Id of the {obj}"},
        "status": {"type": "string", "enum": rng.choice(_STATUSES)},
        "limit": {"type": "integer", "minimum": 1, "maximum": rng.choice([50, 100, 500])},
        "offset": {"type": "integer", "minimum": 0, "maximum": 100000},
        "query": {"type": "string", "maxLength": 64, "description": "Free-text search"},
        "include_deleted": {"type": "boolean"},
        "amount": {"type": "number", "minimum": 0, "maximum": 1000000},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 5},
        "fields": {"type": "array", "items": {"type": "string", "enum": ["id", "name", "created_at", "owner"]},
                   "minItems": 1, "maxItems": 4},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "location": {"type": "object", "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}},
                     "required": ["lat", "lng"], "additionalProperties": False},
        "dry_run": {"type": "boolean"},
    }


def make_tools(n: int, *, seed: int = 0) -> list[dict]:
    """``n`` distinct OpenAI Chat Completions tool dicts (1 to 6 parameters each: strings with
    ``maxLength``, enums, bounded integers and numbers, booleans, arrays, a nested object).
    The same ``n`` and ``seed`` always give the same tools; the first ``k`` tools of
    ``make_tools(n)`` are the same for every ``n >= k``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = random.Random(seed)
    tools = []
    for i in range(n):
        domain = _DOMAINS[i % len(_DOMAINS)]
        verb = _VERBS[(i // len(_DOMAINS)) % len(_VERBS)]
        obj = _OBJECTS[(i // (len(_DOMAINS) * len(_VERBS))) % len(_OBJECTS)]
        pool = _param_pool(obj, rng)
        names = [f"{obj}_id"] + rng.sample([k for k in pool if k != f"{obj}_id"], rng.randint(0, 5))
        props = {k: pool[k] for k in names}
        required = [k for k in names if k.endswith("_id") or rng.random() < 0.3]
        tools.append({"type": "function", "function": {
            "name": f"{domain}_{verb}_{obj}_{i}",
            "description": f"{verb.capitalize()} {obj} records in the {domain.upper()} system.",
            "parameters": {"type": "object", "properties": props, "required": required,
                           "additionalProperties": False},
        }})
    return tools


def call_schema(tools: list[dict]) -> dict:
    """The JSON schema of one call ``{"name": ..., "arguments": {...}}`` to one of ``tools``:
    the language of structcall's ``format="json", tool_choice="required",
    parallel_tool_calls=False`` grammar, written as a JSON schema for outlines."""
    branches = []
    for tool in tools:
        fn = tool["function"]
        branches.append({
            "type": "object",
            "properties": {"name": {"const": fn["name"]}, "arguments": fn["parameters"]},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        })
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


#: The end-to-end tool set: small, regular (so every backend, outlines-core included, can
#: take it) and with every string bounded, so no constraint is weaker on one side.
E2E_TOOLS: list[dict] = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 32},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "search_flights", "description": "Flights between two airports on a date.",
        "parameters": {"type": "object", "properties": {
            "origin": {"type": "string", "maxLength": 3, "minLength": 3},
            "destination": {"type": "string", "maxLength": 3, "minLength": 3},
            "nonstop": {"type": "boolean"}},
            "required": ["origin", "destination", "nonstop"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "send_email", "description": "Send an email.",
        "parameters": {"type": "object", "properties": {
            "to": {"type": "string", "maxLength": 48},
            "subject": {"type": "string", "maxLength": 48}},
            "required": ["to", "subject"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount between currencies.",
        "parameters": {"type": "object", "properties": {
            "amount": {"type": "integer", "minimum": 0, "maximum": 1000000},
            "from_currency": {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY"]},
            "to_currency": {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY"]}},
            "required": ["amount", "from_currency", "to_currency"], "additionalProperties": False}}},
]

E2E_PROMPTS: list[str] = [
    "What's the weather in Paris right now, in celsius?",
    "Find me a nonstop flight from SFO to JFK.",
    "Email bob@example.com with the subject 'Lunch on Friday'.",
    "How much is 250 USD in EUR?",
    "Is it cold in Oslo? Use fahrenheit.",
    "Convert 1200 GBP to JPY please.",
    "Any flights from LHR to CDG, stops are fine?",
    "Send alice@example.org an email titled 'Quarterly report'.",
]


def describe(tools: list[dict]) -> str:
    """One line: how many tools and how big their schemas are (for the report)."""
    return f"{len(tools)} tools, {len(json.dumps(tools))} bytes of JSON"
