"""Score one response BFCL-style (AST) and by execution, with one failure taxonomy.

Taxonomy (every failure gets exactly one label):

* format (what a grammar can enforce): ``unparseable`` (not a call and not an explicit
  answer: broken JSON, an unclosed tag, text after the call, a call-like fragment, an empty or
  truncated reply), ``unknown_tool``, ``unknown_argument``, ``type_error`` (any schema
  violation of a value: wrong JSON type, a float for an integer, a value outside an enum or
  range, a bad date, a missing *required* argument);
* semantic (what a grammar cannot enforce): ``wrong_tool``, ``wrong_value`` (including a
  missing *optional* argument the request asked for, and an answer text that misses a fact),
  ``missing_call``, ``extra_call``, ``wrong_abstention`` (no call where one was due, or a call
  where the right reply is text).

Abstention is scored only from an explicit no-call answer: non-empty text with no call-like
fragment (``<tool_call``, ``{"name"``...) that ``structcall.parse_calls`` reads as zero calls.
A parse failure is never an abstention.

AST rules (BFCL): exact function name; required arguments present; unknown arguments fail;
each argument matches one of its allowed values (``""`` = may be omitted); an int is accepted
for a float, not the reverse; strings compare case- and punctuation-insensitively; parallel
calls match order-free, all or nothing.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from structcall import ToolCallError, parse_calls
from structcall.tools import normalize_tools

from .toolbox import execute_call

__all__ = ["FORMAT_LABELS", "SEMANTIC_LABELS", "LABELS", "Verdict", "verify", "ast_match", "values_equal",
           "standardize_string", "is_explicit_answer", "category_of"]

FORMAT_LABELS = ("unparseable", "unknown_tool", "unknown_argument", "type_error")
SEMANTIC_LABELS = ("wrong_tool", "wrong_value", "missing_call", "extra_call", "wrong_abstention")
LABELS = FORMAT_LABELS + SEMANTIC_LABELS

_KIND_LABEL = {"parse": "unparseable", "count": "unparseable", "no_call": "unparseable",
               "unknown_tool": "unknown_tool", "unknown_argument": "unknown_argument",
               "missing_argument": "type_error", "type": "type_error", "value": "type_error"}

_CALL_LIKE = re.compile(r"<\s*/?\s*tool_?call|tool_call\s*>|\{\s*[\"']name[\"']\s*:|[\"']arguments[\"']\s*:|\[TOOL_CALLS\]"
                        r"|\b[A-Za-z_][\w.]*\(\s*[A-Za-z_]\w*\s*=", re.IGNORECASE)
# when one output has several errors, the most fundamental names the failure
_KIND_PRIORITY = ["parse", "count", "no_call", "unknown_tool", "unknown_argument", "missing_argument", "type", "value"]


def category_of(label: str | None) -> str | None:
    if label is None:
        return None
    return "format" if label in FORMAT_LABELS else "semantic"


@dataclass
class Verdict:
    """The score of one response.

    format_valid: parsed into schema-valid calls, or an explicit no-call answer.
    ast_correct: BFCL AST match (for text items: the right kind of answer, with its facts).
    exec_correct: executing the calls gives the gold results (None where tools cannot run).
    label: taxonomy label of the failure (None when correct); category: "format"/"semantic".
    names_correct: the right decision and the right functions, values aside (Granite's function-name
        detection): a valid output calling exactly the gold tool names (as a multiset), or an
        explicit text reply where no call is due.
    """

    format_valid: bool
    ast_correct: bool
    exec_correct: bool | None
    label: str | None
    category: str | None
    detail: str = ""
    kind: str = "invalid"             # "calls" | "text" | "invalid"
    calls: list[dict] = field(default_factory=list)
    names_correct: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _fail(label: str, detail: str, *, kind: str = "invalid", calls: list[dict] | None = None,
          execute: bool = True) -> Verdict:
    fmt = label in FORMAT_LABELS
    return Verdict(format_valid=not fmt, ast_correct=False, exec_correct=False if execute else None, label=label,
                   category=category_of(label), detail=detail, kind=kind, calls=calls or [])


# --------------------------------------------------------------------------------------------
# Value comparison (BFCL checker rules)
# --------------------------------------------------------------------------------------------
def standardize_string(s: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lowercase, ``'`` -> ``"``."""
    return re.sub(r"[ ,./\-_*^]", "", s).lower().replace("'", '"')


def _types(schema: dict | None) -> set[str]:
    t = (schema or {}).get("type")
    if t is None:
        return set()
    return set(t) if isinstance(t, list) else {t}


def values_equal(pred: Any, allowed: Any, schema: dict | None = None) -> tuple[bool, str | None]:
    """Does ``pred`` match one allowed value? Returns (ok, failure label or None)."""
    types = _types(schema)
    if isinstance(pred, bool) or isinstance(allowed, bool):
        return (type(pred) is type(allowed) and pred == allowed), (None if isinstance(pred, bool) else "type_error")
    if isinstance(pred, (int, float)) and isinstance(allowed, (int, float)):
        if "integer" in types and "number" not in types and isinstance(pred, float):
            return False, "type_error"  # BFCL: a float is not accepted for an integer
        if isinstance(allowed, int) and isinstance(pred, float) and not types:
            return False, "type_error"  # no schema: the reference is an integer
        return math.isclose(float(pred), float(allowed), rel_tol=1e-9, abs_tol=1e-9), None
    if isinstance(pred, str) and isinstance(allowed, str):
        return standardize_string(pred) == standardize_string(allowed), None
    if isinstance(pred, list) and isinstance(allowed, list):
        if len(pred) != len(allowed):
            return False, None
        item_schema = (schema or {}).get("items") if isinstance((schema or {}).get("items"), dict) else None
        for p, a in zip(pred, allowed):
            ok, lab = values_equal(p, a, item_schema)
            if not ok:
                return False, lab
        return True, None
    if isinstance(pred, dict) and isinstance(allowed, dict):
        props = (schema or {}).get("properties") or {}
        for k in set(pred) | set(allowed):
            if k not in pred:
                a = allowed[k]
                if isinstance(a, list) and "" in a:  # BFCL nested dict: optional key
                    continue
                return False, None
            if k not in allowed:
                return False, None
            a = allowed[k]
            options = a if isinstance(a, list) and (not isinstance(pred[k], list) or any(isinstance(x, list) for x in a)) else [a]
            if not any(values_equal(pred[k], o, props.get(k))[0] for o in options):
                return False, None
        return True, None
    if pred is None or allowed is None:
        return pred is allowed, None
    return False, ("type_error" if type(pred) is not type(allowed) else None)


def _match_one(name: str, args: dict, truth: dict, schemas: dict[str, dict]) -> tuple[bool, str | None, str]:
    """One predicted call against one ground-truth entry ``{name: {arg: [allowed]}}``."""
    (gname, gargs), = truth.items()
    if name != gname:
        return False, "wrong_tool", f"called {name}, expected {gname}"
    props = (schemas.get(name) or {}).get("properties") or {}
    for k, v in args.items():
        if k not in gargs:
            return False, "wrong_value", f"{name}: argument {k!r} is not expected"
        options = [o for o in gargs[k] if o != ""]
        results = [values_equal(v, o, props.get(k)) for o in options]
        if not any(ok for ok, _ in results):
            labels = {lab for _, lab in results if lab}
            label = "type_error" if labels == {"type_error"} else "wrong_value"
            return False, label, f"{name}: {k}={json.dumps(v)} not in {json.dumps(options)}"
    for k, options in gargs.items():
        if k not in args and "" not in options:
            return False, "wrong_value", f"{name}: argument {k!r} missing (expected {json.dumps(options)})"
    return True, None, ""


def ast_match(calls: list[tuple[str, dict]], ground_truth: list[dict], schemas: dict[str, dict]) -> tuple[bool, str | None, str]:
    """Order-free, all-or-nothing match of predicted calls to ground-truth entries."""
    if len(calls) < len(ground_truth):
        return False, "missing_call", f"{len(calls)} call(s), expected {len(ground_truth)}"
    if len(calls) > len(ground_truth):
        return False, "extra_call", f"{len(calls)} call(s), expected {len(ground_truth)}"
    n = len(calls)
    ok_pairs = [[_match_one(c[0], c[1], t, schemas) for t in ground_truth] for c in calls]

    def search(i: int, used: frozenset) -> bool:
        if i == n:
            return True
        return any(j not in used and ok_pairs[i][j][0] and search(i + 1, used | {j}) for j in range(n))

    if search(0, frozenset()):
        return True, None, ""
    if sorted(c[0] for c in calls) != sorted(next(iter(t)) for t in ground_truth):
        bad = next((r for row in ok_pairs for r in row if r[1] == "wrong_tool"), (False, "wrong_tool", ""))
        return False, "wrong_tool", bad[2]
    # same names: report the first value problem among same-name pairs
    for i, c in enumerate(calls):
        for j, t in enumerate(ground_truth):
            if next(iter(t)) == c[0] and not ok_pairs[i][j][0]:
                return False, ok_pairs[i][j][1], ok_pairs[i][j][2]
    return False, "wrong_value", "no consistent assignment of calls to expected calls"


def _canon(x: Any) -> str:
    def norm(v):
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, dict):
            return {k: norm(w) for k, w in v.items()}
        if isinstance(v, list):
            return [norm(w) for w in v]
        return v
    return json.dumps(norm(x), sort_keys=True)


def is_explicit_answer(text: str) -> bool:
    """Non-empty text with no call-like fragment: the only thing that counts as a no-call reply."""
    return bool(text.strip()) and _CALL_LIKE.search(text) is None


_NUM = re.compile(r"-?\d+(?:\.\d+)?")


def _has_fact(text: str, fact: str) -> bool:
    if fact.lower() in text.lower():
        return True
    try:
        value = float(fact)
    except ValueError:
        return False
    return any(math.isclose(float(m), value, abs_tol=1e-9) for m in _NUM.findall(text))


# --------------------------------------------------------------------------------------------
# The verifier
# --------------------------------------------------------------------------------------------
_SPEC_CACHE: dict[str, list] = {}


def _specs(tools: Any) -> list:
    """Normalised ToolSpecs, cached by the tools' JSON (bad tool definitions raise SchemaError)."""
    key = json.dumps(tools, sort_keys=True, default=str)
    specs = _SPEC_CACHE.get(key)
    if specs is None:
        if len(_SPEC_CACHE) > 4096:
            _SPEC_CACHE.clear()
        specs = _SPEC_CACHE[key] = normalize_tools(tools)
    return specs


def verify(response: str, example: dict, *, truncated: bool = False, execute: bool = True) -> Verdict:
    """Score ``response`` (model text) for ``example`` (a task or BFCL item).

    ``example`` keys: ``tools`` (any shape structcall accepts), ``expect`` ("call", "no_call"
    or "answer"), ``ground_truth`` (BFCL-style list), and optionally ``gold_calls`` (executed
    for the execution comparison when ``execute``) and ``facts`` (for "answer" items).
    ``truncated``: the response hit the token limit; an unfinished text answer is not explicit.
    """
    specs = _specs(example["tools"])
    try:
        parsed = parse_calls(response, specs, format="hermes")
    except ToolCallError as err:
        kind, pointer, message = min(err.errors, key=lambda e: _KIND_PRIORITY.index(e[0]) if e[0] in _KIND_PRIORITY else 0)
        return _fail(_KIND_LABEL.get(kind, "unparseable"), f"{kind} at {pointer or '/'}: {message}", execute=execute)
    original = {s.name: s.original_name for s in specs}
    schemas = {s.original_name: s.parameters for s in specs}
    calls = [(original.get(c.name, c.name), c.arguments) for c in parsed]
    call_dicts = [{"name": n, "arguments": a} for n, a in calls]
    expect = example["expect"]

    if not calls:
        if not is_explicit_answer(response):
            what = "empty reply" if not response.strip() else "call-like text that is not a valid call"
            return _fail("unparseable", what, execute=execute)
        if truncated:
            return _fail("unparseable", "text answer cut off at the token limit", execute=execute)
        if expect == "call":
            return _fail("wrong_abstention", "answered in text where a call was due", kind="text", execute=execute)
        if expect == "answer":
            missing = [f for f in example.get("facts", []) if not _has_fact(response, f)]
            if missing:
                v = _fail("wrong_value", f"answer misses {missing}", kind="text", execute=execute)
                v.names_correct = True
                return v
        return Verdict(True, True, True if execute else None, None, None, kind="text", names_correct=True)

    if expect != "call":
        return _fail("wrong_abstention", f"called {[c[0] for c in calls]} where a text reply was due",
                     kind="calls", calls=call_dicts, execute=execute)
    ok, label, detail = ast_match(calls, example["ground_truth"], schemas)
    names_ok = sorted(c[0] for c in calls) == sorted(next(iter(t)) for t in example["ground_truth"])
    exec_ok: bool | None = None
    if execute and example.get("gold_calls") is not None:
        gold = [execute_call(c["name"], c["arguments"]) for c in example["gold_calls"]]
        got = [execute_call(n, a) for n, a in calls]
        exec_ok = (all(not (isinstance(g, dict) and "error" in g) for g in gold)
                   and sorted(map(_canon, got)) == sorted(map(_canon, gold)))
    if ok:
        return Verdict(True, True, exec_ok, None, None, kind="calls", calls=call_dicts, names_correct=True)
    valid = label not in FORMAT_LABELS
    return Verdict(format_valid=valid, ast_correct=False, exec_correct=exec_ok, label=label,
                   category=category_of(label), detail=detail, kind="calls", calls=call_dicts,
                   names_correct=valid and names_ok)
