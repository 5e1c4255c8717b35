"""Regenerate the programmatic parts of the corpus (deterministic; run from anywhere):

    python tests/corpus/generate.py

* `devops.json`: the 200+ value ``instance_type`` enum of ``launch_instance`` (the line is
  rewritten in place; the rest of the hand-written file is kept as is);
* `bad/deep_nesting.json` / `bad/deep_compile.json`: object schemas nested 300 levels (past the
  normaliser's depth limit) and 70 levels (past the grammar compiler's), each a `SchemaError`
  with the pointer;
* `many_tools.json`: 120 varied tools in one set (Chat Completions, Responses and BFCL shapes);
  most use only keywords the grammar enforces fully, the `export`/`sync` tools carry a date
  ``format`` (whose calendar validity the validator checks after decoding).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent

FAMILIES = ["t3", "t3a", "t4g", "m5", "m5a", "m6i", "m6g", "m7i", "m7g", "c5", "c5n", "c6i", "c6g", "c7g",
            "r5", "r6i", "r6g", "r7g", "x2idn", "i4i", "g5", "inf2"]
SIZES = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
         "16xlarge", "24xlarge"]


def instance_types() -> list[str]:
    out = []
    for f in FAMILIES:
        for s in SIZES:
            if f.startswith("t") and s.endswith("xlarge") and s not in ("xlarge", "2xlarge"):
                continue  # burstable families stop at 2xlarge
            out.append(f"{f}.{s}")
    out += [f"{f}.metal" for f in FAMILIES if not f.startswith("t")]
    return out


def write_devops():
    path = HERE / "devops.json"
    text = path.read_text(encoding="utf-8")
    prop = {"type": "string", "enum": instance_types(), "description": "Machine type (generated list, see generate.py)"}
    line = '"instance_type": ' + json.dumps(prop, ensure_ascii=False) + ","
    text, n = re.subn(r'"instance_type": \{.*\},', lambda m: line, text, count=1)
    assert n == 1, "instance_type line not found in devops.json"
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------ many_tools.json
DOMAINS = {
    "crm": ["contact", "deal", "lead", "account", "note"],
    "hr": ["employee", "leave_request", "payslip", "position"],
    "inventory": ["item", "warehouse", "stock_level", "supplier"],
    "billing": ["invoice", "subscription", "refund", "payment_method"],
    "support": ["ticket", "macro", "agent", "sla_policy"],
    "analytics": ["report", "dashboard", "metric", "segment"],
    "cms": ["article", "page", "media_asset", "tag"],
    "iot": ["device", "firmware", "telemetry", "alarm"],
    "lms": ["course", "enrollment", "quiz", "certificate"],
    "fleet": ["vehicle", "driver", "trip", "maintenance_job"],
}
VERBS = ["get", "list", "create", "update", "delete", "search", "export", "archive", "assign", "sync"]
STATUSES = [
    ["open", "pending", "closed"],
    ["draft", "published", "archived"],
    ["active", "suspended", "cancelled", "trial"],
    ["new", "in_progress", "blocked", "done", "wont_fix"],
    ["low", "medium", "high", "urgent"],
    ["queued", "running", "succeeded", "failed"],
]


def _arg_pool(obj: str, rng: random.Random, bfcl: bool) -> dict:
    num = "float" if bfcl else "number"
    obj_t = "dict" if bfcl else "object"
    pool = {
        f"{obj}_id": {"type": "string", "pattern": "^[a-z]{2,4}_[0-9A-Za-z]{8}$", "description": f"Id of the {obj}"},
        "status": {"type": "string", "enum": rng.choice(STATUSES)},
        "limit": {"type": "integer", "minimum": 1, "maximum": rng.choice([50, 100, 500])},
        "offset": {"type": "integer", "minimum": 0},
        "updated_within_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "owner_email": {"type": "string", "format": "email"},
        "include_deleted": {"type": "boolean"},
        "amount": {"type": "float", "description": "Amount in the account currency"} if bfcl else
                  {"type": "integer", "minimum": 0, "maximum": 100000000, "description": "Amount in cents"},
        "score": {"type": num},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": rng.choice([5, 10, 20])},
        "fields": {"type": "array", "items": {"type": "string", "enum": ["id", "name", "created_at", "updated_at", "owner", "status"]}, "minItems": 1},
        "notes": {"type": ["string", "null"], "maxLength": 1000} if not bfcl else {"type": "string", "description": "Free text"},
        "format": {"type": "string", "enum": ["csv", "json", "xlsx", "parquet"]},
        "page_token": {"type": "string", "minLength": 16, "maxLength": 64},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "external_ref": {"type": "string", "format": "uuid"} if not bfcl else {"type": "string"},
        "callback_url": {"type": "string", "format": "uri"} if not bfcl else {"type": "string"},
        "location": {
            "type": obj_t,
            "properties": {"lat": {"type": num}, "lng": {"type": num}},
            "required": ["lat", "lng"],
        },
        "metadata": {"type": obj_t, "description": "Arbitrary key/value metadata"},
        "window": {"type": "tuple", "items": {"type": "integer"}} if bfcl else
                  {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 0}], "minItems": 2, "maxItems": 2},
        "assignee": {"anyOf": [{"type": "string", "format": "email"}, {"type": "integer", "minimum": 1}]} if not bfcl else {"type": "any"},
        "dry_run": {"type": "boolean"},
    }
    return pool


def many_tools(n: int = 120) -> list[dict]:
    rng = random.Random(20240617)
    tools = []
    combos = [(d, v, o) for d, objs in DOMAINS.items() for v in VERBS for o in objs]
    rng.shuffle(combos)
    for i in range(n):
        domain, verb, obj = combos[i]
        shape = i % 3  # 0 Chat Completions, 1 Responses, 2 BFCL
        bfcl = shape == 2
        pool = _arg_pool(obj, rng, bfcl)
        keys = list(pool)
        k = 0 if i % 17 == 5 else rng.randint(1, 6)
        chosen = [f"{obj}_id"] if verb in ("get", "update", "delete", "archive", "assign") else []
        if verb in ("export", "sync") and not bfcl:  # a date window (its calendar validity is checked after decoding)
            chosen.append("since")
            pool["since"] = {"type": "string", "format": rng.choice(["date", "date-time"])}
        for key in rng.sample(keys, k):
            if key not in chosen:
                chosen.append(key)
        props = {key: pool[key] for key in chosen}
        required = [key for key in chosen if key.endswith("_id") or rng.random() < 0.25]
        params = {"type": "dict" if bfcl else "object", "properties": props}
        if required:
            params["required"] = required
        if not bfcl and rng.random() < 0.4:
            params["additionalProperties"] = False
        name = f"{domain}{'.' if bfcl else '_'}{verb}_{obj}_{i}"
        desc = f"{verb.capitalize()} {obj.replace('_', ' ')} records in the {domain.upper()} system."
        if shape == 0:
            fn = {"name": name, "description": desc, "parameters": params}
            if "additionalProperties" in params and set(required) == set(props):
                fn["strict"] = True
            tools.append({"type": "function", "function": fn})
        elif shape == 1:
            tools.append({"type": "function", "name": name, "description": desc, "parameters": params})
        else:
            tools.append({"name": name, "description": desc, "parameters": params})
    return tools


def _nested(levels: int) -> dict:
    s: dict = {"type": "string"}
    for _ in range(levels):
        s = {"type": "object", "properties": {"x": s}, "required": ["x"]}
    return s


def write_deep_bad():
    for name, levels, where in (("deep_nesting", 300, "the normaliser's depth limit"), ("deep_compile", 70, "the grammar compiler's depth limit")):
        case = {
            "description": f"An object schema nested {levels} levels, past {where}: a SchemaError with the pointer, never a RecursionError.",
            "tools": [{"name": f"deep{levels}", "parameters": _nested(levels)}],
            "expect": ["/0/parameters/properties/x/properties/x"],
        }
        (HERE / "bad" / f"{name}.json").write_text(json.dumps(case, separators=(",", ":")) + "\n", encoding="utf-8")


def main():
    write_devops()
    write_deep_bad()
    (HERE / "many_tools.json").write_text(json.dumps(many_tools(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
