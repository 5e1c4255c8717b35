"""Score one response BFCL-style (AST) and by execution, keeping every error it makes.

Three families of errors (an output keeps all of its errors, each with its family):

* format (what a grammar can enforce): ``unparseable`` (broken JSON, an unclosed tag, text
  after the call, a call-like fragment, an empty or truncated reply), ``misspelled_tool`` (a
  name that stands for an in-context tool: ``getWeather`` for ``get_weather``, one close
  spelling), ``unknown_argument``, ``type_error`` (any schema violation of a value: wrong JSON
  type, a float for an integer, a value outside an enum or range, a bad date, a missing
  *required* argument);
* decision (call or not): ``call_not_due`` (a call, even a broken one, where a text reply is
  due), ``text_not_call`` (an explicit text reply where a call is due);
* semantic (what a grammar cannot enforce): ``absent_tool`` (a call item calling a tool that is
  not in context and is no misspelling of one), ``wrong_tool``, ``wrong_value`` (including a
  missing *optional* argument the request asked for, and an answer text that misses a fact),
  ``missing_call``, ``extra_call``.

Semantic errors are judged on the calls as parsed or, when only format errors stopped the
parse, as repaired. The *deterministic repair* is structcall's lenient parser (code fences,
text after the call, single quotes, ...) after renaming each misspelled tool to its in-context
name; ``repairable`` = wrong as written, right once repaired (the "free + repair" regime).

A no-call decision is read only from an explicit no-call reply: non-empty text with no
call-like fragment (``<tool_call``, ``{"name"``...) that ``structcall.parse_calls`` reads as
zero calls, or an empty call list in a ``<tool_call>`` envelope. A parse failure is never an
abstention.

AST rules (BFCL): exact function name; required arguments present; unknown arguments fail;
each argument matches one of its allowed values (``""`` = may be omitted); an int is accepted
for a float, not the reverse; strings compare case- and punctuation-insensitively; parallel
calls match order-free, all or nothing.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from structcall import ToolCallError, parse_calls
from structcall.tools import normalize_tools

from .toolbox import execute_call

__all__ = ["FORMAT_LABELS", "DECISION_LABELS", "SEMANTIC_LABELS", "LABELS", "FAMILIES", "FAMILY", "Verdict", "verify",
           "ast_match", "values_equal", "standardize_string", "is_explicit_answer", "is_no_call_reply", "nearest_tool",
           "category_of"]

FORMAT_LABELS = ("unparseable", "misspelled_tool", "unknown_argument", "type_error")
DECISION_LABELS = ("call_not_due", "text_not_call")
SEMANTIC_LABELS = ("absent_tool", "wrong_tool", "wrong_value", "missing_call", "extra_call")
LABELS = FORMAT_LABELS + DECISION_LABELS + SEMANTIC_LABELS
FAMILIES = ("format", "decision", "semantic")
FAMILY = {**{k: "format" for k in FORMAT_LABELS}, **{k: "decision" for k in DECISION_LABELS},
          **{k: "semantic" for k in SEMANTIC_LABELS}}

_KIND_LABEL = {"parse": "unparseable", "count": "unparseable", "no_call": "unparseable",
               "unknown_tool": "misspelled_tool", "unknown_argument": "unknown_argument",
               "missing_argument": "type_error", "type": "type_error", "value": "type_error"}

_CALL_LIKE = re.compile(r"<\s*/?\s*tool_?call|tool_call\s*>|\{\s*[\"']name[\"']\s*:|[\"']arguments[\"']\s*:|\[TOOL_CALLS\]"
                        r"|\b[A-Za-z_][\w.]*\(\s*[A-Za-z_]\w*\s*=", re.IGNORECASE)


def category_of(label: str | None) -> str | None:
    return None if label is None else FAMILY[label]


@dataclass
class Verdict:
    """The score of one response.

    format_valid: parsed into schema-valid calls, or an explicit no-call reply (not cut off).
    ast_correct: no error at all (BFCL AST match; for text items the right kind of answer, with its facts).
    exec_correct: executing the calls gives the gold results (None where not executed).
    label / category: the first error and its family (format, then decision, then semantic); None when correct.
    errors: every error, as ``{"label", "family", "detail"}``.
    decision: what the output decided: "call" (any call attempt, even unparseable), "text", "none" (empty).
    names_correct: the right decision and the right functions, values aside (Granite's function-name
        detection): a valid output calling exactly the gold tool names (as a multiset), or an
        explicit text reply where no call is due.
    repaired_correct / repaired_valid: correct / valid after the deterministic repair.
    repairable: wrong as written, correct after the repair.
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
    decision: str = "none"
    errors: list[dict] = field(default_factory=list)
    repaired_correct: bool = False
    repaired_valid: bool = False
    repairable: bool = False

    @property
    def families(self) -> set[str]:
        return {e["family"] for e in self.errors}

    def as_dict(self) -> dict:
        return asdict(self)


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
_UNKNOWN_NAME = re.compile(r"unknown tool (?P<q>['\"])(?P<name>.*?)(?P=q); available")
_EMPTY_CALL_LIST = re.compile(r"\s*<tool_call>\s*\[\s*\]\s*</tool_call>\s*")


def _specs(tools: Any) -> list:
    """Normalised ToolSpecs, cached by the tools' JSON (bad tool definitions raise SchemaError)."""
    key = json.dumps(tools, sort_keys=True, default=str)
    specs = _SPEC_CACHE.get(key)
    if specs is None:
        if len(_SPEC_CACHE) > 4096:
            _SPEC_CACHE.clear()
        specs = _SPEC_CACHE[key] = normalize_tools(tools)
    return specs


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def nearest_tool(name: str, names: list[str]) -> str | None:
    """The in-context tool a misspelled ``name`` stands for: same letters and digits ignoring case and
    separators (``getWeather``, ``get-weather``), or one close spelling (difflib ratio >= 0.8);
    None for a real but absent tool (a name that is none of these)."""
    if name in names:
        return name
    squashed = {_squash(n): n for n in names}
    if _squash(name) in squashed:
        return squashed[_squash(name)]
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
    return near[0] if near else None


def _error(label: str, detail: str) -> dict:
    return {"label": label, "family": FAMILY[label], "detail": detail}


def _rename(text: str, renames: dict[str, str]) -> str:
    """Replace misspelled tool names by their in-context names (JSON strings and ``name(`` calls)."""
    for old, new in renames.items():
        text = text.replace(json.dumps(old), json.dumps(new)).replace(f"'{old}'", f"'{new}'")
        text = re.sub(rf"(?<![\w.]){re.escape(old)}(?=\s*\()", new, text)
    return text


def _parse(text: str, specs: list, fmt: str, *, lenient: bool) -> tuple[list | None, list[tuple[str, str, str]]]:
    try:
        return parse_calls(text, specs, format=fmt, lenient=lenient), []
    except ToolCallError as err:
        return None, list(err.errors)


def is_no_call_reply(text: str) -> bool:
    """An explicit no-call answer: plain text with no call-like fragment, or an empty call list
    in a ``<tool_call>`` envelope (SmolLM2's native way to say "no call")."""
    return is_explicit_answer(text) or _EMPTY_CALL_LIST.fullmatch(text) is not None


def verify(response: str, example: dict, *, format: str, truncated: bool = False, execute: bool = True) -> Verdict:
    """Score ``response`` (model text in output ``format``) for ``example`` (a task or BFCL item).

    ``example`` keys: ``tools`` (any shape structcall accepts), ``expect`` ("call", "no_call"
    or "answer"), ``ground_truth`` (BFCL-style list), and optionally ``gold_calls`` (executed
    for the execution comparison when ``execute``) and ``facts`` (for "answer" items).
    ``truncated``: the response hit the token limit; an unfinished text answer is not explicit.
    """
    specs = _specs(example["tools"])
    names = [s.original_name for s in specs]
    schemas = {s.original_name: s.parameters for s in specs}
    original = {s.name: s.original_name for s in specs}
    expect_call = example["expect"] == "call"
    errors: list[dict] = []
    calls, parse_errors = _parse(response, specs, format, lenient=False)
    no_call_reply = is_no_call_reply(response)
    decision = "text" if (calls == [] and no_call_reply) else ("call" if response.strip() else "none")

    # ---- format (and absent tools), then the deterministic repair ----
    renames: dict[str, str] = {}
    absent: list[str] = []
    for kind, pointer, message in parse_errors:
        m = _UNKNOWN_NAME.search(message) if kind == "unknown_tool" else None
        if m:
            near = nearest_tool(m.group("name"), names)
            if near is None:
                absent.append(m.group("name"))
                if expect_call:
                    errors.append(_error("absent_tool", f"{pointer}: {m.group('name')!r} is not among the tools in context"))
                continue
            renames[m.group("name")] = near
            errors.append(_error("misspelled_tool", f"{pointer}: {m.group('name')!r} for the in-context {near!r}"))
            continue
        errors.append(_error(_KIND_LABEL.get(kind, "unparseable"), f"{kind} at {pointer or '/'}: {message}"))
    if calls == [] and not no_call_reply:
        what = "empty reply" if not response.strip() else "call-like text that is not a valid call"
        errors.append(_error("unparseable", what))
    if decision == "text" and truncated:
        errors.append(_error("unparseable", "text answer cut off at the token limit"))
    repaired = calls
    if calls is None and not absent:
        repaired, later = _parse(_rename(response, renames), specs, format, lenient=True)
        seen = {e["label"] for e in errors}
        for kind, pointer, message in later:  # what the unknown names hid (arguments of a misspelled tool)
            label = _KIND_LABEL.get(kind, "unparseable")
            if label not in seen:
                errors.append(_error(label, f"{kind} at {pointer or '/'} (after repair): {message}"))
    effective = None if repaired is None else [(original.get(c.name, c.name), c.arguments) for c in repaired]

    # ---- decision ----
    if expect_call and decision == "text":
        errors.append(_error("text_not_call", "answered in text where a call was due"))
    if not expect_call and decision == "call":
        errors.append(_error("call_not_due", "called a tool where a text reply was due"))

    # ---- semantics (on the calls as parsed, or as repaired) ----
    names_ok = False
    ast_ok_calls = False
    if expect_call and effective:
        ok, label, detail = ast_match(effective, example["ground_truth"], schemas)
        ast_ok_calls = ok
        if not ok:
            errors.append(_error(label, detail))
        names_ok = sorted(c[0] for c in effective) == sorted(next(iter(t)) for t in example["ground_truth"])
    elif not expect_call and decision == "text" and not truncated:
        names_ok = True
        if example["expect"] == "answer":
            missing = [f for f in example.get("facts", []) if not _has_fact(response, f)]
            if missing:
                errors.append(_error("wrong_value", f"answer misses {missing}"))

    format_valid = not any(e["family"] == "format" for e in errors)
    correct = not errors
    # the repair fixed everything: the strict parse failed, the repaired one is right
    repaired_ok = correct or (calls is None and repaired is not None and expect_call and ast_ok_calls)
    exec_ok: bool | None = None
    if execute:
        if expect_call and format_valid and effective and example.get("gold_calls") is not None:
            gold = [execute_call(c["name"], c["arguments"]) for c in example["gold_calls"]]
            got = [execute_call(n, a) for n, a in effective]
            exec_ok = (all(not (isinstance(g, dict) and "error" in g) for g in gold)
                       and sorted(map(_canon, got)) == sorted(map(_canon, gold)))
        else:
            exec_ok = correct
    errors.sort(key=lambda e: (FAMILIES.index(e["family"]), LABELS.index(e["label"])))
    first = errors[0] if errors else None
    return Verdict(format_valid=format_valid, ast_correct=correct, exec_correct=exec_ok,
                   label=first["label"] if first else None, category=first["family"] if first else None,
                   detail=first["detail"] if first else "", kind={"call": "calls" if format_valid else "invalid",
                                                                  "text": "text", "none": "invalid"}[decision],
                   calls=[{"name": n, "arguments": a} for n, a in (effective or [])],
                   names_correct=names_ok and (format_valid or decision == "text") and not any(
                       e["family"] == "decision" for e in errors),
                   decision=decision, errors=errors, repaired_correct=repaired_ok,
                   repairable=repaired_ok and not correct, repaired_valid=format_valid or (calls is None and repaired is not None))
