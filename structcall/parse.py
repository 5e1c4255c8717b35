"""Model text -> validated `ToolCall`s.

`parse_calls(text, tools, format=...)` returns the calls in `text` (an empty list for a plain
text answer) or raises `ToolCallError`; on any input whatever it does nothing else. Pythonic
calls are read with `ast` and `ast.literal_eval` - model output is never evaluated.
`lenient=True` repairs the common slips (code fences, text after the call, single quotes,
trailing commas, Python ``True/None`` in JSON, arguments given as a JSON string) and records
each repair in `ToolCall.repairs`.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import io
import json
import math
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

from . import patterns
from .errors import ToolCallError
from .formats import check_format, load_format, xml_raw_value
from .pointer import join
from .schema import FORMAT_REGEXES
from .tools import ToolSpec, closest, normalize_tools

__all__ = ["ToolCall", "ParseResult", "parse_calls", "parse_output", "truncation_error", "validate_arguments", "FORMAT_CHECKER"]

_KIND_ORDER = {k: i for i, k in enumerate(["parse", "truncated", "count", "no_call", "unknown_tool", "unknown_argument", "missing_argument", "type", "value"])}


@dataclass
class ToolCall:
    """One validated tool call.

    Attributes:
        id: a deterministic id (``call_`` + hash of the output and the call's index).
        name: the tool's (normalised) name.
        arguments: the arguments, as decoded from the output.
        repairs: what `lenient` parsing repaired to read this call.
    """

    name: str
    arguments: dict
    id: str
    spec: ToolSpec | None = field(default=None, repr=False, compare=False)
    repairs: list[str] = field(default_factory=list, compare=False)
    _typed: Any = field(default=None, repr=False, compare=False)

    @property
    def typed(self):
        """The arguments as an instance of the tool's pydantic model (pydantic-model and
        callable tools), else None."""
        return self._typed

    def execute(self):
        """Call the tool's Python callable with the (typed) arguments."""
        if self.spec is None or self.spec.function is None:
            raise TypeError(f"tool {self.name!r} has no Python callable to execute (it was not given as a function)")
        if self._typed is not None:
            # typed values (e.g. nested pydantic models, enums), defaults filled in
            kwargs = {k: getattr(self._typed, k) for k in type(self._typed).model_fields}
        else:
            kwargs = dict(self.arguments)
        return self.spec.function(**kwargs)

    def to_openai(self) -> dict:
        """The call in the OpenAI Chat Completions ``tool_calls`` shape (original tool name)."""
        name = self.spec.original_name if self.spec is not None else self.name
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": name, "arguments": _dumps_utf8(self.arguments)},
        }


def _dumps_utf8(value) -> str:
    """JSON text that is valid UTF-8: lone surrogates (from ``\\udxxx`` escapes) stay escaped."""
    s = json.dumps(value, ensure_ascii=False)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = json.dumps(value, ensure_ascii=True)
    return s


@dataclass
class ParseResult:
    content: str
    """Text before the calls (the whole text for a plain answer)."""
    calls: list[ToolCall]
    repairs: list[str]
    truncated: str | None = None
    """Only with ``parse_output(..., truncated=True)``: the text of the call the cut fell
    inside (None when the output was complete, or was cut between calls or in plain text)."""


# ------------------------------------------------------------------------------ format checks
def _check_format(fmt: str, value) -> bool:
    if not isinstance(value, str):
        return True
    rx = FORMAT_REGEXES.get(fmt)
    if rx is None:
        return True
    rx = rx.replace("%(cap)d", "1000000")
    if not re.fullmatch(rx, value):
        return False
    try:
        if fmt == "date":
            datetime.date.fromisoformat(value)
        elif fmt == "date-time":
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _make_format_checker():
    from jsonschema import FormatChecker

    fc = FormatChecker()
    for name in FORMAT_REGEXES:
        fc.checkers[name] = (lambda v, _n=name: _check_format(_n, v), ())
    return fc


FORMAT_CHECKER = None  # built lazily (jsonschema import)
_validators: dict[str, Any] = {}
_validator_cls = None


def _safe_keywords():
    """Draft 2020-12 with every regex match (``pattern``, ``patternProperties``, the pattern
    side of ``additionalProperties``) done by `structcall.patterns.search`: linear-time RE2,
    a time-budgeted fallback, and a clear error where a match cannot be decided safely."""
    from jsonschema import Draft202012Validator, ValidationError, validators
    from jsonschema._utils import extras_msg

    def match(pattern, text):
        try:
            return patterns.search(pattern, text), None
        except patterns.PatternUndecided as e:
            return None, ValidationError(f"{_short(text)} could not be checked against {pattern!r}: {e.reason}")

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string"):
            ok, err = match(patrn, instance)
            if err is not None:
                yield err
            elif not ok:
                yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator, pprops, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in pprops.items():
            for k, v in instance.items():
                ok, err = match(patrn, k)
                if err is not None:
                    yield err
                elif ok:
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    def additional_properties(validator, ap, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        props = schema.get("properties", {})
        pats = list(schema.get("patternProperties", {}))
        extras = []
        for k in instance:
            if k in props:
                continue
            hit = False
            for p in pats:
                ok, err = match(p, k)
                if err is not None:
                    yield err
                    hit = True
                    break
                if ok:
                    hit = True
                    break
            if not hit:
                extras.append(k)
        if validator.is_type(ap, "object"):
            for k in extras:
                yield from validator.descend(instance[k], ap, path=k)
        elif not ap and extras:
            if pats:
                verb = "does" if len(extras) == 1 else "do"
                yield ValidationError(f"{', '.join(map(repr, sorted(extras)))} {verb} not match any of the regexes: {', '.join(map(repr, sorted(pats)))}")
            else:
                yield ValidationError("Additional properties are not allowed (%s %s unexpected)" % extras_msg(sorted(extras, key=str)))

    return validators.extend(
        Draft202012Validator,
        {"pattern": pattern, "patternProperties": pattern_properties, "additionalProperties": additional_properties},
    )


def _validator(schema: dict):
    global FORMAT_CHECKER, _validator_cls
    key = json.dumps(schema, sort_keys=True, default=str)
    v = _validators.get(key)
    if v is None:
        if FORMAT_CHECKER is None:
            FORMAT_CHECKER = _make_format_checker()
        if _validator_cls is None:
            _validator_cls = _safe_keywords()
        v = _validator_cls(schema, format_checker=FORMAT_CHECKER)
        if len(_validators) > 1024:
            _validators.clear()
        _validators[key] = v
    return v


def _allowed_extra(params: dict, key: str) -> bool | None:
    """Whether the root schema admits argument `key` beyond its declared properties: by
    ``patternProperties`` or an ``additionalProperties`` that is not false. Same rule as the
    grammar: where the schema is silent, declared properties only (``"properties": {}`` means no
    arguments); an object schema without ``properties`` is a free-form map. None: a pattern
    match could not be decided (reported by the schema validator)."""
    for p in params.get("patternProperties") or {}:
        try:
            if patterns.search(p, key):
                return True
        except patterns.PatternUndecided:
            return None
    addl = params.get("additionalProperties", None)
    if addl is None:
        return "properties" not in params and not params.get("patternProperties")
    return addl is not False


def _short(v, n: int = 60) -> str:
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _walk(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))


def validate_arguments(spec: ToolSpec, args, base: str = "") -> list[tuple[str, str, str]]:
    """Every error in `args` for `spec`, as ``(kind, pointer, message)``; [] when valid."""
    errs: list[tuple[str, str, str]] = []
    if not isinstance(args, dict):
        return [("type", f"{base}/arguments", f"arguments must be an object, got {type(args).__name__}")]
    params = spec.parameters
    props = params.get("properties") or {}
    required = params.get("required") or []
    for k in args:
        if k not in props and k not in required and _allowed_extra(params, k) is False:
            expected = ", ".join(props) or "(none)"
            if params.get("patternProperties"):
                expected += "; or a name matching " + ", ".join(map(repr, params["patternProperties"]))
            errs.append(("unknown_argument", join(f"{base}/arguments", k), f"unknown argument {k!r} for {spec.name}; expected one of: {expected}.{closest(k, props)}"))
    for k in required:
        if k not in args:
            errs.append(("missing_argument", join(f"{base}/arguments", k), f"missing required argument {k!r} for {spec.name}"))
    for path, v in _walk(args):
        if isinstance(v, float) and not math.isfinite(v):
            errs.append(("value", join(f"{base}/arguments", *path), f"number out of range: {v}"))
    if errs and any(k == "value" and m.startswith("number out of range") for k, _, m in errs):
        return errs
    try:
        verrs = sorted(_validator(params).iter_errors(args), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    except Exception as e:  # a schema jsonschema cannot evaluate (e.g. unresolvable reference)
        return errs + [("value", f"{base}/arguments", f"arguments could not be validated: {e}")]
    for e in verrs:
        if e.validator in ("required", "additionalProperties") and list(e.schema_path) == [e.validator]:
            continue  # the root's own required/additionalProperties: reported above, per argument
        kind = {"type": "type", "required": "missing_argument", "additionalProperties": "unknown_argument"}.get(e.validator, "value")
        msg = e.message if len(e.message) < 200 else e.message[:197] + "..."
        errs.append((kind, join(f"{base}/arguments", *e.absolute_path), msg))
    if not errs and spec.model is not None:
        import pydantic

        try:
            spec.model.model_validate(args)
        except pydantic.ValidationError as ve:
            for d in ve.errors():
                kind = "type" if "type" in d.get("type", "") or d.get("type", "").endswith("_parsing") else "value"
                errs.append((kind, join(f"{base}/arguments", *d.get('loc', ())), d.get("msg", "invalid")))
    return errs


# ------------------------------------------------------------------------------ lenient helpers
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```\s*$", re.S)


def _strip_fence(s: str, repairs: list[str]) -> str:
    m = _FENCE.match(s)
    if m:
        repairs.append("removed a code fence")
        return m.group(1)
    return s


def _python_json(s: str):
    """Read JSON-ish text with Python literal syntax (single quotes, True/None, trailing
    commas, and also true/false/null) - by tokenizing and `ast.literal_eval`, never `eval`."""
    out = []
    toks = tokenize.generate_tokens(io.StringIO(s).readline)
    for tok in toks:
        if tok.type == tokenize.NAME and tok.string in ("true", "false", "null"):
            out.append((tokenize.NAME, {"true": "True", "false": "False", "null": "None"}[tok.string]))
        else:
            out.append((tok.type, tok.string))
    src = tokenize.untokenize(out)
    return ast.literal_eval(src.strip())


#: what ``ast.literal_eval`` raises on source that is not a literal
_LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError)
#: what :func:`_python_json` raises on text it cannot read (tokenizing adds TokenError)
_PYTHON_JSON_ERRORS = (*_LITERAL_ERRORS, tokenize.TokenError)


def _load_json(s: str, lenient: bool, repairs: list[str], pointer: str):
    """One JSON value from `s`. Raises ToolCallError(parse)."""
    try:
        return json.loads(s)
    except (json.JSONDecodeError, RecursionError) as e:
        err = e
    if lenient:
        try:
            val, end = json.JSONDecoder().raw_decode(s.lstrip())
            if s.lstrip()[end:].strip():
                repairs.append("dropped text after the call")
            return val
        except (json.JSONDecodeError, RecursionError):
            pass
        try:
            val = _python_json(s)
            repairs.append("read Python-style literals (quotes, True/None, trailing commas)")
            return val
        except _PYTHON_JSON_ERRORS:
            pass
    if isinstance(err, json.JSONDecodeError):
        msg = f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
    else:
        msg = "invalid JSON: nesting too deep"
    raise ToolCallError("parse", pointer, msg)


# ------------------------------------------------------------------------------ per format
def _leading_ws(s: str, st: str, lenient: bool, repairs: list[str]) -> None:
    """Calls must start the output; whitespace before them is a format slip."""
    if s[:1] != st[:1]:
        if not lenient:
            raise ToolCallError("parse", "", "the call must start at the beginning of the output (found leading whitespace)")
        repairs.append("removed whitespace before the call")


def _extract_json(text: str, fmt, lenient: bool, repairs: list[str]):
    s = _strip_fence(text, repairs) if lenient else text
    st = s.strip()
    if not st or st[0] not in (fmt.opener or "{["):
        return text, []
    _leading_ws(s, st, lenient, repairs)
    sep = fmt.separator.strip()
    if not fmt.section_open and sep and st[0] == "{":  # objects joined by a separator (llama3_json)
        items, pos, dec = [], 0, json.JSONDecoder()
        while True:
            try:
                val, end = dec.raw_decode(st, pos)
            except (json.JSONDecodeError, RecursionError):
                _load_json(st[pos:], lenient, repairs, f"/{len(items)}")
                raise ToolCallError("parse", f"/{len(items)}", "invalid JSON") from None
            items.append(val)
            pos = _skip_ws(st, end)
            if pos >= len(st):
                return "", items
            if not st.startswith(sep, pos):
                if lenient:
                    repairs.append("dropped text after the call")
                    return "", items
                raise ToolCallError("parse", f"/{len(items)}", f"unexpected text after the call: {_short(st[pos:], 40)}")
            pos = _skip_ws(st, pos + len(sep))
    val = _load_json(st, lenient, repairs, "")
    items = val if isinstance(val, list) else [val]
    return "", items


def _extract_section(text: str, fmt, lenient: bool, repairs: list[str]):
    """Formats whose calls sit in one JSON list after a trigger (mistral, smollm2)."""
    s = _strip_fence(text, repairs) if lenient else text
    i = s.find(fmt.trigger)
    if i < 0:
        return text, []
    content = s[:i]
    if content and not lenient:
        raise ToolCallError("parse", "", f"text before {fmt.trigger} is not allowed in the {fmt.name} format")
    if content:
        repairs.append(f"dropped text before {fmt.trigger}")
    head = fmt.section_open.strip()
    close = fmt.section_close.strip()
    # the JSON list starts at the section opener's last "[" (a bare object is read too)
    lead = head[:-1] if head.endswith("[") else head
    close_rest = close[1:] if close.startswith("]") else close
    if not s.startswith(lead, i):
        raise ToolCallError("parse", "", f"expected {head!r} to open the calls")
    j = i + len(lead)
    if close_rest:
        end = s.rfind(close_rest)
        if end < j:
            if not lenient:
                _load_json(s[j:].strip(), False, repairs, "")  # the JSON error, if any
                raise ToolCallError("parse", "", f"the call list is not closed with {close_rest!r}")
            repairs.append(f"closed an unclosed {head} block")
            end = len(s)
        after = s[end + len(close_rest):]
        if after.strip():
            if not lenient:
                raise ToolCallError("parse", "", f"unexpected text after {close_rest}: {_short(after.strip(), 40)}")
            repairs.append("dropped text after the call")
        body = s[j:end]
    else:
        body = s[j:]
    val = _load_json(body.strip(), lenient, repairs, "")
    items = val if isinstance(val, list) else [val]
    return content, items


_WS = " \t\r\n"


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _extract_blocks(text: str, fmt, lenient: bool, repairs: list[str]):
    """Formats whose every call sits in its own tagged block (hermes)."""
    _OPEN, _CLOSE = fmt.call_open.strip(), fmt.call_close.strip()
    first = text.find(_OPEN)
    if first < 0:
        return text, []
    content = text[:first]
    if content and not fmt.text_before_call and not lenient:
        raise ToolCallError("parse", "", f"text before {_OPEN} is not allowed in the {fmt.name} format")
    pos, items, dec = first, [], json.JSONDecoder()
    while True:
        i = len(items)
        body = pos + len(_OPEN)
        # Decode the JSON first and look for the closing tag after it, so that a string
        # argument containing the closing tag does not cut the block.
        try:
            val, end = dec.raw_decode(text, _skip_ws(text, body))
        except (json.JSONDecodeError, RecursionError):
            val = end = None
        if val is not None and text.startswith(_CLOSE, _skip_ws(text, end)):
            items.append(val)
            pos = _skip_ws(text, end) + len(_CLOSE)
        else:
            close = text.find(_CLOSE, body if end is None else end)
            if close < 0:
                if not lenient:
                    if val is None:
                        _load_json(text[body:].strip(), False, repairs, f"/{i}")  # the JSON error, if any
                    raise ToolCallError("parse", f"/{i}", f"a {_OPEN} block is not closed with {_CLOSE}")
                repairs.append(f"closed an unclosed {_OPEN} block")
                items.append(val if val is not None else _load_json(text[body:].strip(), lenient, repairs, f"/{i}"))
                break
            if val is not None:  # valid JSON, then something before the closing tag
                if not lenient:
                    raise ToolCallError("parse", f"/{i}", f"unexpected text after the call, before {_CLOSE}: {_short(text[end:close].strip(), 40)}")
                repairs.append("dropped text after the call")
                items.append(val)
            else:
                items.append(_load_json(text[body:close].strip(), lenient, repairs, f"/{i}"))
            pos = close + len(_CLOSE)
        nxt = text.find(_OPEN, pos)
        between = text[pos: nxt if nxt >= 0 else len(text)]
        if between.strip():
            if not lenient:
                where = "between tool calls" if nxt >= 0 else "after the tool calls"
                raise ToolCallError("parse", f"/{len(items)}", f"unexpected text {where}: {_short(between.strip(), 40)}")
            repairs.append("dropped text after the call" if nxt < 0 else "dropped text between calls")
        if nxt < 0:
            break
        pos = nxt
    return content, items


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _literal(node, lenient: bool, repairs: list[str]):
    try:
        return ast.literal_eval(node)
    except _LITERAL_ERRORS:
        if lenient:
            src = ast.unparse(node)
            try:
                v = _python_json(src)
                repairs.append("read JSON literals (true/false/null) in a Python call")
                return v
            except _PYTHON_JSON_ERRORS:
                pass
        raise


def _extract_pythonic(text: str, fmt, lenient: bool, repairs: list[str]):
    s = _strip_fence(text, repairs) if lenient else text
    st = s.strip()
    if not st.startswith("["):
        return text, []
    _leading_ws(s, st, lenient, repairs)
    try:
        tree = ast.parse(st, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        tree = None
        if lenient:
            for m in re.finditer(r"\]", st):
                try:
                    tree = ast.parse(st[: m.end()], mode="eval")
                    repairs.append("dropped text after the call")
                    break
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue
        if tree is None:
            where = f" at line {e.lineno} column {e.offset}" if isinstance(e, SyntaxError) and e.lineno else ""
            raise ToolCallError("parse", "", f"not a Python list of calls{where}: {getattr(e, 'msg', None) or type(e).__name__}") from None
    body = tree.body
    if not isinstance(body, ast.List):
        raise ToolCallError("parse", "", "expected a Python list of calls like [name(arg=value)]")
    items = []
    for i, el in enumerate(body.elts):
        if not isinstance(el, ast.Call):
            raise ToolCallError("parse", f"/{i}", "each list item must be a call like name(arg=value)")
        name = _dotted(el.func)
        if name is None:
            raise ToolCallError("parse", f"/{i}/name", "the called function must be a name")
        if el.args:
            raise ToolCallError("parse", f"/{i}/arguments", f"{name}: pass arguments by keyword (name=value), not by position")
        args = {}
        for kw in el.keywords:
            if kw.arg is None:
                raise ToolCallError("parse", f"/{i}/arguments", f"{name}: **kwargs is not allowed")
            if kw.arg in args:
                raise ToolCallError("parse", f"/{i}/arguments/{kw.arg}", f"{name}: argument {kw.arg!r} given twice")
            try:
                args[kw.arg] = _literal(kw.value, lenient, repairs)
            except _LITERAL_ERRORS:
                raise ToolCallError("parse", f"/{i}/arguments/{kw.arg}", f"{name}: the value of {kw.arg!r} is not a Python literal") from None
        items.append({"name": name, "arguments": args})
    return "", items


def _extract_templated(text: str, fmt, lenient: bool, repairs: list[str]):
    """Formats that write each call around its name and JSON arguments (`call_template`)."""
    pre, mid, post = fmt.call_parts()
    i = text.find(fmt.trigger)
    if i < 0:
        return text, []
    content = text[:i]
    if content and not fmt.text_before_call and not lenient:
        raise ToolCallError("parse", "", f"text before {fmt.trigger} is not allowed in the {fmt.name} format")
    head, close, sep = fmt.section_open.strip(), fmt.section_close.strip(), fmt.separator.strip()
    pos = i
    if head:
        if not text.startswith(head, pos):
            raise ToolCallError("parse", "", f"expected {head!r} to open the calls")
        pos = _skip_ws(text, pos + len(head))
    items: list = []
    dec = json.JSONDecoder()
    while True:
        k = len(items)
        if not text.startswith(pre, pos):
            if items or not head:
                break
            raise ToolCallError("parse", f"/{k}", f"expected {pre!r} to open a call")
        idx = fmt.index_parts()
        if idx is not None:  # NAME, then the call's number (Kimi K2: functions.NAME:0)
            mid = idx[1]
        j = text.find(mid, pos + len(pre))
        if j < 0:
            raise ToolCallError("parse", f"/{k}", f"a call is cut before {mid.strip() or 'its arguments'!r}")
        name = text[pos + len(pre):j]
        if idx is not None:
            m = re.fullmatch(r"(.*)" + re.escape(idx[0]) + r"[0-9]+\s*", name, re.S)
            if m is None:
                raise ToolCallError("parse", f"/{k}/name", f"a call must be written {pre}NAME{idx[0]}NUMBER{idx[1]}")
            name = m.group(1)
        try:
            args, end = dec.raw_decode(text, _skip_ws(text, j + len(mid)))
        except (json.JSONDecodeError, RecursionError):
            _load_json(text[j + len(mid):].strip(), False, repairs, f"/{k}/arguments")
            raise ToolCallError("parse", f"/{k}/arguments", "invalid JSON arguments") from None
        end = _skip_ws(text, end) if post[:1] in _WS else end
        if not text.startswith(post.lstrip(_WS) if post[:1] in _WS else post, end):
            raise ToolCallError("parse", f"/{k}", f"the call is not closed with {post.strip()!r}")
        pos = end + len(post.lstrip(_WS) if post[:1] in _WS else post)
        items.append({"name": name, "arguments": args})
        nxt = _skip_ws(text, pos)
        if sep and text.startswith(sep, nxt):
            nxt = _skip_ws(text, nxt + len(sep))
        if not text.startswith(pre, nxt):
            pos = nxt
            break
        pos = nxt
    if close:
        if not text.startswith(close, pos):
            raise ToolCallError("parse", "", f"the calls are not closed with {close!r}")
        pos += len(close)
    rest = text[pos:]
    if rest.strip():
        if not lenient:
            raise ToolCallError("parse", f"/{len(items)}", f"unexpected text after the tool calls: {_short(rest.strip(), 40)}")
        repairs.append("dropped text after the call")
    return content, items


def _ws_pattern(part: str, *, head: bool = False, tail: bool = False) -> str:
    """A regex for an envelope piece of an XML format: inner whitespace runs flexible; a
    leading (`head`) or trailing (`tail`) newline optional (a raw value's own first or last
    character is never taken); ``{key}`` a parameter name, ``{string}`` true or false."""
    lead = part[: len(part) - len(part.lstrip(_WS))]
    trail = part[len(part.rstrip(_WS)):]
    core = part.strip(_WS)
    out = []
    pieces = re.split(r"(\{key\}|\{string\}|\s+)", core)
    for piece in pieces:
        if piece == "{key}":  # a name runs to the first place the rest of the envelope follows it
            out.append("([^\\n]+?)")  # (MiniMax: `name="say "hi""` is the name `say "hi"`)
        elif piece == "{string}":
            out.append("(?:true|false)")
        elif piece and piece.isspace():
            out.append(r"\s*")
        else:
            out.append(re.escape(piece))
    rx = "".join(out)
    if head and lead:
        rx = "\n?" + rx
    if tail and trail:
        rx += "\n?"
    return rx


def _xml_call(body: str, fmt, k: int) -> dict:
    """One XML call (its function opener, parameters and closer; outer whitespace stripped)."""
    fn_open, p_open, p_close, fn_close = fmt.xml_parts
    fn_head, fn_tail = fn_open.split("{name}")
    end = fn_close.strip()
    shape = f"{fn_head}NAME{fn_tail.strip()} ... {end}".strip()
    if not body.startswith(fn_head) or not body.endswith(end):
        raise ToolCallError("parse", f"/{k}", f"a call must be {shape}")
    if fn_tail.strip():
        j = body.find(fn_tail.strip(), len(fn_head))
        if j < 0:
            raise ToolCallError("parse", f"/{k}", f"a call must be {shape}")
        name, after = body[len(fn_head):j], j + len(fn_tail.strip())
    else:  # GLM: the name, then a newline
        m = re.compile(r"[^\s<]+").match(body, len(fn_head))
        if m is None:
            raise ToolCallError("parse", f"/{k}/name", "a call must start with the function's name")
        name, after = m.group(0), m.end()
    inner = body[after: len(body) - len(end)]
    if fmt.xml_quote:  # FunctionGemma: key:value pairs in its own notation
        return {"name": name, "arguments": _gemma_fields(inner, 0, len(inner), fmt.xml_quote, f"/{k}/arguments")}
    args: dict = {}
    rx = re.compile(_ws_pattern(p_open, tail=True) + r"(.*?)" + _ws_pattern(p_close, head=True), re.S)
    last = 0
    for m in rx.finditer(inner):
        if inner[last:m.start()].strip():
            raise ToolCallError("parse", f"/{k}/arguments", f"unexpected text between parameters: {_short(inner[last:m.start()].strip(), 40)}")
        if m.group(1) in args:
            raise ToolCallError("parse", f"/{k}/arguments/{m.group(1)}", f"argument {m.group(1)!r} given twice")
        args[m.group(1)] = m.group(2)
        last = m.end()
    if inner[last:].strip():
        raise ToolCallError("parse", f"/{k}/arguments", f"unexpected text in the call: {_short(inner[last:].strip(), 40)}")
    return {"name": name, "arguments": args, "_raw": True}


def _gemma_value(s: str, i: int, q: str, where: str):
    """One value in FunctionGemma's notation at `s[i]`: text between two `q` marks, an
    object ``{key:value,...}``, a list ``[value,...]``, or a bare number / true / false / null.
    Returns (value, end)."""
    if s.startswith(q, i):
        j = s.find(q, i + len(q))
        if j < 0:
            raise ToolCallError("parse", where, f"a text value is not closed with {q}")
        return s[i + len(q):j], j + len(q)
    if s.startswith("{", i):
        close = _gemma_close(s, i, "{", "}", q, where)
        return _gemma_fields(s, i + 1, close, q, where), close + 1
    if s.startswith("[", i):
        close = _gemma_close(s, i, "[", "]", q, where)
        items, j = [], i + 1
        while j < close:
            v, j = _gemma_value(s, j, q, f"{where}/{len(items)}")
            items.append(v)
            if j < close and s[j] != ",":
                raise ToolCallError("parse", where, f"expected ',' between list items, got {_short(s[j:close], 20)}")
            j += 1 if j < close else 0
        return items, close + 1
    m = re.compile(r"[^,}\]]*").match(s, i)
    raw = m.group(0).strip()
    try:
        return json.loads(raw), m.end()
    except (json.JSONDecodeError, RecursionError):
        raise ToolCallError("parse", where, f"{raw!r} is not a value: text goes between {q} marks") from None


def _gemma_close(s: str, i: int, open_: str, close: str, q: str, where: str) -> int:
    """Index of the bracket closing the one at `s[i]` (text between `q` marks skipped)."""
    depth, j = 0, i
    while j < len(s):
        if s.startswith(q, j):
            k = s.find(q, j + len(q))
            if k < 0:
                break
            j = k + len(q)
            continue
        if s[j] in "{[":
            depth += 1
        elif s[j] in "}]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ToolCallError("parse", where, f"a {open_} is not closed with {close}")


def _gemma_fields(s: str, i: int, end: int, q: str, where: str) -> dict:
    """``key:value`` pairs separated by commas in `s[i:end]` (keys bare or between `q` marks)."""
    out: dict = {}
    while i < end:
        if s.startswith(q, i):
            key, i = _gemma_value(s, i, q, where)
        else:
            c = s.find(":", i, end)
            if c < 0:
                raise ToolCallError("parse", where, f"expected key:value, got {_short(s[i:end], 30)}")
            key, i = s[i:c].strip(), c
        if not s.startswith(":", i):
            raise ToolCallError("parse", where, f"expected ':' after the key {key!r}")
        if key in out:
            raise ToolCallError("parse", f"{where}/{key}", f"argument {key!r} given twice")
        out[key], i = _gemma_value(s, i + 1, q, f"{where}/{key}")
        if i < end:
            if s[i] != ",":
                raise ToolCallError("parse", where, f"expected ',' after the value of {key!r}, got {_short(s[i:end], 20)}")
            i += 1
    return out


def _extract_xml(text: str, fmt, lenient: bool, repairs: list[str]):
    """Formats whose calls are XML parameters (qwen3_coder, glm, minimax_m2, deepseek_v32):
    each call in its own tagged block, or all of them inside one section; argument values
    stay raw text here and are read against the schema in `_xml_arguments`."""
    if not fmt.call_open:
        return _extract_xml_section(text, fmt, lenient, repairs)
    open_ = fmt.call_open.strip()
    # a block's closer (GLM: the call's own closing tag, part of the call)
    own = not fmt.call_close.strip()
    close = fmt.call_close.strip() or fmt.xml_parts[3].strip()
    first = text.find(open_)
    if first < 0:
        return text, []
    content = text[:first]
    items: list = []
    pos = first
    while True:
        k = len(items)
        end = text.find(close, pos + len(open_))
        if end < 0:
            raise ToolCallError("parse", f"/{k}", f"a {open_} block is not closed with {close}")
        items.append(_xml_call(text[pos + len(open_):end + (len(close) if own else 0)].strip(), fmt, k))
        pos = end + len(close)
        nxt = text.find(open_, pos)
        between = text[pos: nxt if nxt >= 0 else len(text)]
        if between.strip():
            if not lenient:
                raise ToolCallError("parse", f"/{len(items)}", f"unexpected text after the tool calls: {_short(between.strip(), 40)}")
            repairs.append("dropped text after the call")
        if nxt < 0:
            break
        pos = nxt
    return content, items


def _extract_xml_section(text: str, fmt, lenient: bool, repairs: list[str]):
    head, close = fmt.section_open.strip(), fmt.section_close.strip()
    fn_head = fmt.xml_parts[0].split("{name}")[0]
    fn_end = fmt.xml_parts[3].strip()
    first = text.find(head)
    if first < 0:
        return text, []
    content = text[:first]
    items: list = []
    pos = _skip_ws(text, first + len(head))
    while text.startswith(fn_head, pos):
        k = len(items)
        end = text.find(fn_end, pos + len(fn_head))
        if end < 0:
            raise ToolCallError("parse", f"/{k}", f"a call is not closed with {fn_end}")
        end += len(fn_end)
        items.append(_xml_call(text[pos:end], fmt, k))
        pos = _skip_ws(text, end)
        sep = fmt.separator.strip()
        if sep and text.startswith(sep, pos):
            pos = _skip_ws(text, pos + len(sep))
    if not items:
        raise ToolCallError("parse", "/0", f"expected {fn_head.strip()}... to open a call after {head}")
    if not text.startswith(close, pos):
        raise ToolCallError("parse", f"/{len(items)}", f"the calls are not closed with {close!r}")
    rest = text[pos + len(close):]
    if rest.strip():
        if not lenient:
            raise ToolCallError("parse", f"/{len(items)}", f"unexpected text after the tool calls: {_short(rest.strip(), 40)}")
        repairs.append("dropped text after the call")
    return content, items


def _xml_arguments(args: dict, spec) -> dict:
    """Raw XML parameter texts -> values: text for string (or undeclared) arguments, JSON for
    the others (kept as text when it is not JSON, so the validator names the type error)."""
    props = spec.parameters.get("properties") or {}
    out = {}
    for k, raw in args.items():
        sub = props.get(k)
        if sub is None or xml_raw_value(sub):
            out[k] = raw
            continue
        try:
            out[k] = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            out[k] = raw
    return out


def _extractor(fmt):
    """The reader for a format's shape: Python calls, tagged blocks, a list after a trigger,
    or JSON that starts the output."""
    if fmt.body == "python":
        return _extract_pythonic
    if fmt.body == "xml":
        return _extract_xml
    if fmt.call_template:
        return _extract_templated
    if fmt.call_open:
        return _extract_blocks
    if fmt.trigger:
        return _extract_section
    return _extract_json


# ------------------------------------------------------------------------------ entry points
def _resolve_tools(tools, format, tool_choice, parallel_tool_calls):
    from .compile import ToolGrammar, normalize_tool_choice

    if isinstance(tools, ToolGrammar):
        g = tools
        choice = normalize_tool_choice(tool_choice, g.specs) if tool_choice is not None else g.choice
        return g.specs, format or g.format, choice, (
            parallel_tool_calls if parallel_tool_calls is not None else g.parallel_tool_calls
        ), g.max_calls
    specs = normalize_tools(tools)
    choice = normalize_tool_choice(tool_choice, specs) if tool_choice is not None else None
    return specs, format or "hermes", choice, parallel_tool_calls, None


def truncation_error(result: ParseResult) -> ToolCallError | None:
    """The ``truncated`` error for a result of ``parse_output(..., truncated=True)`` whose
    last call was cut, else None. Its pointer is the cut call's index."""
    if result.truncated is None:
        return None
    n = len(result.calls)
    return ToolCallError("truncated", f"/{n}", f"the output was cut by the token limit inside call {n}: {_short(result.truncated, 60)}")


def _repoint(errors, k: int):
    return [(kind, f"/{k}" + p[2:] if p.startswith("/0") else p, m) for kind, p, m in errors]


def _parse_truncated(text: str, tools, format, lenient, tool_choice, parallel_tool_calls) -> ParseResult:
    try:  # a cut that fell after the last call leaves a complete output
        return parse_output(text, tools, format=format, lenient=lenient, tool_choice=tool_choice,
                            parallel_tool_calls=parallel_tool_calls)
    except ToolCallError as e:
        first_error = e
    from .split import CallSplitter

    specs, fmt_name, choice, parallel, max_calls = _resolve_tools(tools, format, tool_choice, parallel_tool_calls)
    fmt = load_format(check_format(fmt_name))
    sp = CallSplitter(fmt)
    pieces = sp.feed(text)
    start = sp.section_start
    if start is None and fmt.trigger and fmt.trigger in text:
        start = text.find(fmt.trigger)  # cut inside the section's opener
    if start is None:
        raise first_error
    calls: list[ToolCall] = []
    errors: list[tuple[str, str, str]] = []
    repairs: list[str] = []
    one_choice = choice if choice is not None and choice.mode != "required" else None
    for k, one in enumerate(pieces):
        try:
            r = parse_output(one, specs, format=fmt.name, lenient=lenient, tool_choice=one_choice)
        except ToolCallError as e:
            errors.extend(_repoint(e.errors, k))
            continue
        for c in r.calls:
            c.id = "call_" + hashlib.sha256(f"{k}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()[:24]
        calls.extend(r.calls)
        repairs.extend(r.repairs)
    tail = text[sp.complete_end if pieces else start:].strip()
    sep = fmt.separator.strip()
    if sep and tail.startswith(sep):
        tail = tail[len(sep):].strip()
    if any(c.startswith(tail) for c in (fmt.call_close.strip(), fmt.section_close.strip())):
        tail = ""
    n = len(pieces)
    if parallel is False and n > 1:
        errors.append(("count", "", f"exactly one call is allowed (parallel_tool_calls=false), got {n}"))
    if max_calls is not None and n > max_calls:
        errors.append(("count", "", f"at most {max_calls} calls are allowed, got {n}"))
    content = text[:start] if fmt.trigger else ""
    result = ParseResult(content=content, calls=calls, repairs=repairs, truncated=tail or None)
    if errors:
        cut = truncation_error(result)
        if cut is not None:
            errors.append(cut.errors[0])
        errors.sort(key=lambda e: (_KIND_ORDER[e[0]] if e[1] == "" else 99, e[1], _KIND_ORDER[e[0]]))
        k, p, m = errors[0]
        raise ToolCallError(k, p, m, errors=errors, text=text)
    return result


def parse_output(text: str, tools, *, format: str | None = None, lenient: bool = False, tool_choice=None,
                 parallel_tool_calls: bool | None = None, truncated: bool = False) -> ParseResult:
    """Like `parse_calls`, but also returns the text before the calls and the repairs made.

    ``truncated=True`` says the output was cut by a length limit: the complete calls before
    the cut are validated and returned, and the cut call's text is in ``result.truncated``
    (`truncation_error` turns it into a ``truncated`` `ToolCallError`). A complete call that
    fails validation still raises, with the cut call listed among the errors.
    """
    if truncated:
        return _parse_truncated(text, tools, format, lenient, tool_choice, parallel_tool_calls)
    specs, format, choice, parallel, max_calls = _resolve_tools(tools, format, tool_choice, parallel_tool_calls)
    fmt = load_format(check_format(format))
    if not isinstance(text, str):
        raise ToolCallError("parse", "", f"model output must be a string, got {type(text).__name__}")
    repairs: list[str] = []
    try:
        content, items = _extractor(fmt)(text, fmt, lenient, repairs)
    except ToolCallError as e:
        e.text = text
        raise
    by_name = {s.name: s for s in specs}
    by_name.update({s.original_name: s for s in specs if s.original_name not in by_name})
    errors: list[tuple[str, str, str]] = []
    calls: list[ToolCall] = []
    for i, item in enumerate(items):
        base = f"/{i}"
        if not isinstance(item, dict):
            errors.append(("parse", base, f"a call must be an object with 'name' and 'arguments', got {type(item).__name__}"))
            continue
        nkey = fmt.name_key if fmt.body == "json" else "name"
        name = item.get(nkey)
        akey = fmt.arguments_key or "arguments"
        if akey in item:
            args = item[akey]
        elif lenient and "parameters" in item:
            args = item["parameters"]
            repairs.append("read 'parameters' as 'arguments'")
        else:
            args = None
        extra = sorted(set(item) - {nkey, akey, "_raw"} - ({"parameters"} if lenient else set()))
        if extra and not lenient:
            errors.append(("parse", base, f"unexpected key(s) {', '.join(map(repr, extra))} in a call; a call has only '{nkey}' and '{akey}'"))
        if not isinstance(name, str):
            errors.append(("parse", join(base, nkey), f"a call needs a string '{nkey}'"))
            continue
        spec = by_name.get(name) or by_name.get(name.replace(".", "_"))
        if spec is None:
            errors.append(("unknown_tool", f"{base}/name", f"unknown tool {name!r}; available tools: {', '.join(sorted(s.name for s in specs)) or '(none)'}.{closest(name, [s.name for s in specs])}"))
            continue
        if args is None:
            if spec.parameters.get("required"):
                errors.append(("parse", join(base, akey), f"the call to {spec.name} has no '{akey}'"))
                continue
            args = {}
        if item.get("_raw") and isinstance(args, dict):
            args = _xml_arguments(args, spec)
        if isinstance(args, str) and lenient:
            try:
                args = json.loads(args)
                repairs.append("decoded arguments given as a JSON string")
            except json.JSONDecodeError:
                pass
        if choice is not None and choice.named and spec.name != choice.name:
            errors.append(("unknown_tool", f"{base}/name", f"tool_choice requires {choice.name!r}, but the output calls {spec.name!r}"))
        errs = validate_arguments(spec, args, base)
        errors.extend(errs)
        if errs:
            continue
        typed = None
        if spec.model is not None:
            typed = spec.model.model_validate(args)
        cid = "call_" + hashlib.sha256(f"{i}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()[:24]
        calls.append(ToolCall(name=spec.name, arguments=args, id=cid, spec=spec, repairs=list(repairs), _typed=typed))
    n = len(items)
    if choice is not None and choice.mode == "none" and n:
        errors.append(("count", "", f"tool_choice is 'none' but the output has {n} call{'s' if n != 1 else ''}"))
    if choice is not None and choice.requires_call and n == 0:
        errors.append(("no_call", "", "a tool call is required, but the output has none"))
    if choice is not None and choice.named and n > 1:
        errors.append(("count", "", f"tool_choice names {choice.name!r}: exactly one call is allowed, got {n}"))
    elif parallel is False and n > 1:
        errors.append(("count", "", f"exactly one call is allowed (parallel_tool_calls=false), got {n}"))
    if max_calls is not None and n > max_calls:
        errors.append(("count", "", f"at most {max_calls} calls are allowed, got {n}"))
    if errors:
        errors.sort(key=lambda e: (_KIND_ORDER[e[0]] if e[1] == "" else 99, e[1], _KIND_ORDER[e[0]]))
        k, p, m = errors[0]
        raise ToolCallError(k, p, m, errors=errors, text=text)
    return ParseResult(content=content, calls=calls, repairs=repairs)


def parse_calls(text: str, tools, *, format: str | None = None, lenient: bool = False, tool_choice=None,
                parallel_tool_calls: bool | None = None) -> list[ToolCall]:
    """Parse and validate the tool calls in a model's output.

    Args:
        text: the model's output.
        tools: the tools (any shape `compile_tools` accepts) or a `ToolGrammar` (whose format,
            tool_choice and parallel setting then apply unless given here).
        format: output format (default: the ToolGrammar's, else "hermes").
        lenient: repair common slips and record them in `ToolCall.repairs`.
        tool_choice: if given, also check it ("none": no call; "required"/a name: a call).
        parallel_tool_calls: if False, more than one call is a `count` error.

    Returns the calls ([] for a plain-text answer). Raises `ToolCallError` for anything else.
    """
    return parse_output(text, tools, format=format, lenient=lenient, tool_choice=tool_choice,
                        parallel_tool_calls=parallel_tool_calls).calls
