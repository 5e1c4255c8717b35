"""Tool definitions in every common shape -> one `ToolSpec`.

Accepted inputs (a single tool or a list mixing them):

* OpenAI Chat Completions tools: ``{"type": "function", "function": {name, description, parameters, strict}}``
* OpenAI Responses-API (flat) tools: ``{"type": "function", "name", "description", "parameters"}``
* bare function definitions ``{"name", "description", "parameters"}`` - including BFCL's function
  docs, whose quirks are normalised (see `BFCL_TYPES`; dotted names such as ``math.factorial``
  become ``math_factorial``, the original is kept in `ToolSpec.original_name`)
* a bare JSON Schema plus a name: ``ToolSpec.from_schema(name, schema)`` or ``(name, schema)``
* pydantic models (the model's fields are the arguments; ``ToolCall.typed`` is a model instance)
* Python callables (signature, type hints and a Google / NumPy / Sphinx docstring)
* `ToolSpec` instances (passed through)

Every problem in the input is collected and raised at once as `SchemaError`, each with its JSON
pointer into the input (``/2/function/parameters/properties/unit/type``).
"""

from __future__ import annotations

import difflib
import inspect
import re
import threading
import typing
import weakref
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from .errors import Problem, SchemaError
from .pointer import PointerError, join, resolve_ref

__all__ = ["ToolSpec", "normalize_tools", "BFCL_TYPES", "NAME_RE", "MAX_SCHEMA_DEPTH"]

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
"""Valid normalised tool names (OpenAI's limit is 64 characters of ``[A-Za-z0-9_-]``)."""

BFCL_TYPES = {
    "dict": "object",
    "float": "number",
    "double": "number",
    "int": "integer",
    "long": "integer",
    "tuple": "array",
    "list": "array",
    "str": "string",
    "bool": "boolean",
    "char": "string",
    "byte": "integer",
    "short": "integer",
    "String": "string",
    "Boolean": "boolean",
    "ArrayList": "array",
    "HashMap": "object",
    "Array": "array",
}
"""BFCL / Python / Java type names found in function docs in the wild -> JSON Schema types.
``"any"`` removes the type constraint."""


@dataclass
class ToolSpec:
    """One tool, normalised.

    Attributes:
        name: the name used in grammars and calls (``[A-Za-z_][A-Za-z0-9_-]{0,63}``).
        original_name: the name as given (e.g. ``math.factorial``); `ToolCall.to_openai()` uses it.
        description: free text.
        parameters: the arguments' JSON Schema (an object schema, normalised).
        strict: the OpenAI ``strict`` flag, if given.
        function: the Python callable behind the tool, if any (``ToolCall.execute()``).
        model: the pydantic model validating the arguments, if any (``ToolCall.typed``).
        pointer: JSON pointer of the parameters schema in the caller's input.
    """

    name: str
    parameters: dict
    description: str = ""
    original_name: str | None = None
    strict: bool | None = None
    function: Callable | None = field(default=None, repr=False, compare=False)
    model: Any = field(default=None, repr=False, compare=False)
    pointer: str = ""

    def __post_init__(self):
        if self.original_name is None:
            self.original_name = self.name

    def to_openai(self) -> dict:
        """The tool as an OpenAI Chat Completions tool dict (with the normalised name)."""
        fn = {"name": self.name, "description": self.description, "parameters": self.parameters}
        if self.strict is not None:
            fn["strict"] = self.strict
        return {"type": "function", "function": fn}

    def signature(self) -> dict:
        """Name, description and parameters: what identifies the tool's grammar."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    @classmethod
    def from_schema(cls, name: str, schema: dict, description: str = "") -> "ToolSpec":
        return normalize_tools([{"name": name, "description": description, "parameters": schema}])[0]


# ----------------------------------------------------------------------------- normalisation
MAX_SCHEMA_DEPTH = 200
"""Deepest nesting of JSON containers accepted in a parameters schema (a deeper one is a
`SchemaError` naming where it goes too deep, never a RecursionError)."""

_DRAFTS = {"draft-03": 3, "draft-04": 4, "draft-06": 6, "draft-07": 7, "2019-09": 2019, "2020-12": 2020}


def _draft_of(schema) -> int:
    """The JSON Schema draft a schema declares with ``$schema`` (2020 when it declares none)."""
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if isinstance(uri, str):
        for tag, d in _DRAFTS.items():
            if tag in uri:
                return d
    return 2020


def _too_deep(schema, pointer: str, limit: int) -> str | None:
    """Pointer of the first place nested deeper than `limit` (iterative: no recursion)."""
    stack = [(schema, pointer, 0)]
    while stack:
        node, ptr, d = stack.pop()
        if d > limit:
            return ptr
        if isinstance(node, dict):
            stack.extend((v, join(ptr, k), d + 1) for k, v in node.items() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{ptr}/{i}", d + 1) for i, v in enumerate(node) if isinstance(v, (dict, list)))
    return None


# keywords that only annotate or hold sub-schemas for $ref: kept beside a draft 4-7 $ref
_REF_KEEP = {"$ref", "title", "description", "default", "examples", "$comment", "definitions", "$defs", "$id", "id"}


def _normalize_types(schema, pointer: str, problems: list[Problem], draft: int = 2020):
    """BFCL-style types -> JSON Schema types, and the keywords of drafts 4-7 and 2019-09 ->
    their 2020-12 form (`dependencies`, tuple `items` + `additionalItems`, boolean
    `exclusiveMinimum`/`exclusiveMaximum`, draft-4 `id`, `$ref` siblings that drafts 4-7
    ignore), recursively. Returns a new schema that Draft 2020-12 reads as the declared draft
    reads the original."""
    if isinstance(schema, list):
        return [_normalize_types(s, f"{pointer}/{i}", problems, draft) for i, s in enumerate(schema)]
    if not isinstance(schema, dict):
        return schema
    if draft <= 7 and "$ref" in schema:  # drafts 4-7: "all other properties in a $ref object MUST be ignored"
        schema = {k: v for k, v in schema.items() if k in _REF_KEEP}
    out = {}
    for k, v in schema.items():
        if k == "type":
            types = v if isinstance(v, list) else [v]
            mapped = []
            for t in types:
                if isinstance(t, str) and t in BFCL_TYPES:
                    mapped.append(BFCL_TYPES[t])
                elif t == "any":
                    mapped = None
                    break
                else:
                    mapped.append(t)
            if mapped is None:
                continue
            out[k] = mapped if isinstance(v, list) else mapped[0]
        elif k in ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas", "dependencies"):
            out[k] = (
                {pk: _normalize_types(pv, join(pointer, k, pk), problems, draft) for pk, pv in v.items()}
                if isinstance(v, dict)
                else v
            )
        elif k in ("items", "additionalProperties", "not", "if", "then", "else", "contains", "additionalItems", "propertyNames"):
            out[k] = _normalize_types(v, f"{pointer}/{k}", problems, draft)
        elif k in ("anyOf", "oneOf", "allOf", "prefixItems"):
            out[k] = _normalize_types(v, f"{pointer}/{k}", problems, draft)
        elif k == "$schema":
            continue  # read once at the root; the result is 2020-12
        elif k == "id" and draft == 4 and isinstance(v, str):
            continue  # draft-4 base URI: local references resolve by JSON pointer alone
        else:
            out[k] = v
    # tuple `items` given as a list (drafts 4 - 2019-09, and BFCL "tuple") -> prefixItems;
    # `additionalItems` then governs the rest (2020-12 `items`), and is ignored otherwise
    if isinstance(out.get("items"), list):
        out["prefixItems"] = out.pop("items")
        if "additionalItems" in out:
            out["items"] = out.pop("additionalItems")
    else:
        out.pop("additionalItems", None)
    # `dependencies` (drafts 4-7) -> dependentRequired (name lists) + dependentSchemas
    deps = out.get("dependencies")
    if isinstance(deps, dict):
        out.pop("dependencies")
        req = {k: v for k, v in deps.items() if isinstance(v, list)}
        sch = {k: v for k, v in deps.items() if not isinstance(v, list)}
        if req:
            out["dependentRequired"] = {**req, **(out.get("dependentRequired") or {})}
        if sch:
            out["dependentSchemas"] = {**sch, **(out.get("dependentSchemas") or {})}
    # OpenAPI `nullable: true` -> a "null" type (the validator would otherwise reject null)
    if out.get("nullable") is True:
        out.pop("nullable")
        t = out.get("type")
        if isinstance(t, str) and t != "null":
            out["type"] = [t, "null"]
        elif isinstance(t, list) and "null" not in t:
            out["type"] = t + ["null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    # draft-4 boolean exclusiveMinimum/exclusiveMaximum -> 2020-12 numbers
    for ex, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(ex), bool):
            if out.pop(ex) and bound in out:
                out[ex] = out.pop(bound)
    return out


def _check_refs(schema, root, pointer: str, problems: list[Problem]):
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#"):
                problems.append(Problem(f"{pointer}/$ref", f"only local references ('#/...') are supported, got {ref!r}"))
            else:
                try:
                    resolve_ref(root, ref)
                except PointerError as e:
                    problems.append(Problem(f"{pointer}/$ref", f"$ref {ref!r} points nowhere ({e.reason})"))
        for k, v in schema.items():
            if k in ("enum", "const", "default", "examples", "example"):
                continue
            _check_refs(v, root, join(pointer, k), problems)
    elif isinstance(schema, list):
        for i, v in enumerate(schema):
            _check_refs(v, root, f"{pointer}/{i}", problems)


# The JSON Schema 2020-12 metaschema as a table: keyword -> what its value must be. Checking
# against it is ~100x faster than jsonschema's metaschema validation ($dynamicRef resolution),
# and the test-suite checks that both find problems in the same schemas.
_SCHEMA_KW = {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
              "unevaluatedItems", "unevaluatedProperties", "contentSchema", "additionalItems"}
_SCHEMA_MAP_KW = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_SCHEMA_LIST_KW = {"allOf", "anyOf", "oneOf", "prefixItems"}
_NONNEG_KW = {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains"}
_NUMBER_KW = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
_STRING_KW = {"$id", "$schema", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$comment", "title", "description",
              "format", "contentEncoding", "contentMediaType", "pattern"}
_BOOL_KW = {"uniqueItems", "readOnly", "writeOnly", "deprecated"}
_TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}


def _is_int(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_schema(schema, pointer: str, problems: list[Problem]) -> None:
    """Append a Problem for every place where `schema` breaks the JSON Schema 2020-12 metaschema."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        problems.append(Problem(pointer, f"not a valid JSON Schema: {schema!r} is not of type 'object', 'boolean'"))
        return
    for k, v in schema.items():
        p = join(pointer, k)
        bad = None
        if k in _SCHEMA_KW:
            check_schema(v, p, problems)
        elif k in _SCHEMA_MAP_KW:
            if not isinstance(v, dict):
                bad = "an object of schemas"
            else:
                for kk, vv in v.items():
                    check_schema(vv, join(p, kk), problems)
                if k == "patternProperties":
                    for kk in v:
                        try:
                            re.compile(kk)
                        except re.error as e:
                            problems.append(Problem(join(p, kk), f"not a valid JSON Schema: {kk!r} is not a 'regex' ({e})"))
        elif k in _SCHEMA_LIST_KW:
            if not isinstance(v, list) or not v:
                bad = "a non-empty array of schemas"
            else:
                for i, vv in enumerate(v):
                    check_schema(vv, f"{p}/{i}", problems)
        elif k in _NONNEG_KW:
            if not _is_int(v) or v < 0:
                bad = "a non-negative integer"
        elif k in _NUMBER_KW:
            if not _is_num(v):
                bad = "a number"
        elif k == "multipleOf":
            if not _is_num(v) or v <= 0:
                bad = "a number greater than 0"
        elif k in _STRING_KW:
            if not isinstance(v, str):
                bad = "a string"
            elif k == "pattern":
                try:
                    re.compile(v)
                except re.error as e:
                    problems.append(Problem(p, f"not a valid JSON Schema: {v!r} is not a 'regex' ({e})"))
        elif k in _BOOL_KW:
            if not isinstance(v, bool):
                bad = "a boolean"
        elif k == "type":
            types = v if isinstance(v, list) else [v]
            if not types or not all(isinstance(t, str) and t in _TYPES for t in types) or (isinstance(v, list) and len(set(types)) != len(types)):
                bad = f"one of {sorted(_TYPES)} or a unique array of them"
        elif k == "required":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v) or len(set(v)) != len(v):
                bad = "an array of unique strings"
        elif k == "enum":
            if not isinstance(v, list):
                bad = "an array"
        elif k == "dependentRequired":
            if not isinstance(v, dict) or not all(isinstance(x, list) and all(isinstance(y, str) for y in x) for x in v.values()):
                bad = "an object of string arrays"
        elif k == "examples":
            if not isinstance(v, list):
                bad = "an array"
        if bad:
            problems.append(Problem(p, f"not a valid JSON Schema: {k} must be {bad}, got {v!r}"))


def _check_parameters(params, pointer: str, problems: list[Problem], *, copy: bool = False) -> dict | None:
    if params is None:
        return {"type": "object", "properties": {}}
    if not isinstance(params, dict):
        problems.append(Problem(pointer, f"parameters must be a JSON Schema object, got {type(params).__name__}"))
        return None
    try:  # the copy checks the depth on its way (a deep schema then gets its pointer)
        params = _json_copy(params) if copy else _check_depth(params)
    except _TooDeep:
        problems.append(Problem(_too_deep(params, pointer, MAX_SCHEMA_DEPTH) or pointer, f"schema nested deeper than {MAX_SCHEMA_DEPTH} levels"))
        return None
    draft = _draft_of(params)
    if draft == 3:
        problems.append(Problem(f"{pointer}/$schema", "JSON Schema draft 3 is not supported: declare draft 4 or later (required is then a list of names)"))
        return None
    params = _normalize_types(params, pointer, problems, draft)
    t = params.get("type")
    if t is None:
        if not params or any(k in params for k in ("properties", "required", "additionalProperties", "anyOf", "oneOf", "allOf", "$ref")):
            params = {"type": "object", **params}
        else:
            problems.append(Problem(f"{pointer}/type", "parameters must be an object schema (type: object)"))
            return None
    elif t != "object":
        problems.append(Problem(f"{pointer}/type", f"parameters must be an object schema, got type {t!r}"))
        return None
    n = len(problems)
    check_schema(params, pointer, problems)
    req = params.get("required")
    if isinstance(req, list) and isinstance(params.get("properties"), dict):
        pass  # required names without a property are allowed (they admit any value)
    _check_refs(params, params, pointer, problems)
    return params if len(problems) == n else None


class _TooDeep(Exception):
    pass


def _json_copy(v, depth: int = 0):
    """Deep copy of JSON data (~3x faster than copy.deepcopy); other objects are shared.
    Raises _TooDeep past MAX_SCHEMA_DEPTH levels (so it never recurses without bound)."""
    if isinstance(v, dict):
        if depth > MAX_SCHEMA_DEPTH:
            raise _TooDeep
        return {k: _json_copy(x, depth + 1) for k, x in v.items()}
    if isinstance(v, list):
        if depth > MAX_SCHEMA_DEPTH:
            raise _TooDeep
        return [_json_copy(x, depth + 1) for x in v]
    return v


def _check_depth(v):
    """`v` itself, after checking its depth like `_json_copy` (raises _TooDeep)."""
    if _too_deep(v, "", MAX_SCHEMA_DEPTH) is not None:
        raise _TooDeep
    return v


def _from_dict(tool: dict, i: int, problems: list[Problem]) -> ToolSpec | None:
    base = f"/{i}"
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        fn, base = tool["function"], f"/{i}/function"
    elif "type" in tool and tool.get("type") != "function":
        problems.append(Problem(f"/{i}/type", f"unsupported tool type {tool.get('type')!r}; only 'function' tools can be called"))
        return None
    else:
        fn = tool
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"{base}/name", "a tool needs a non-empty string name"))
        return None
    norm = name.replace(".", "_") if "." in name else name
    name_ok = bool(NAME_RE.match(norm))
    if not name_ok:
        problems.append(
            Problem(f"{base}/name", f"invalid tool name {name!r}: use 1-64 characters of letters, digits, '_' or '-', not starting with a digit or '-'")
        )
    desc = fn.get("description") or ""
    if not isinstance(desc, str):
        problems.append(Problem(f"{base}/description", "description must be a string"))
        desc = str(desc)
    params = _check_parameters(fn.get("parameters"), f"{base}/parameters", problems, copy=True)
    if params is None or not name_ok:  # keep checking after a bad name: report every problem
        return None
    strict = fn.get("strict")
    return ToolSpec(name=norm, original_name=name, description=desc, parameters=params, strict=strict, pointer=f"{base}/parameters")


def _strip_titles(schema):
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _from_pydantic(model, i: int, problems: list[Problem]) -> ToolSpec | None:
    try:
        schema = model.model_json_schema()
    except Exception as e:  # pydantic raises several error types for unschematic fields
        problems.append(Problem(f"/{i}", f"pydantic model {model.__name__} has no JSON Schema: {e}"))
        return None
    desc = (inspect.getdoc(model) or "").strip()
    if desc.startswith("Usage docs:") or model.__doc__ is None:
        desc = ""
    schema = {k: v for k, v in _strip_titles(schema).items() if k != "description"}
    params = _check_parameters(schema, f"/{i}", problems)
    if params is None:
        return None
    name = model.__name__
    if not NAME_RE.match(name):
        problems.append(Problem(f"/{i}", f"invalid tool name {name!r} from pydantic model"))
        return None
    return ToolSpec(name=name, description=desc, parameters=params, model=model, pointer=f"/{i}")


# ----------------------------------------------------------------------------- docstrings
_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters",
             "returns", "return", "raises", "yields", "examples", "example", "notes", "note", "see also", "attributes"}
_PARAM_SECTIONS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters"}
#: a Sphinx parameter field (``:param x:``, and its synonyms ``:parameter``, ``:arg``, ``:argument``,
#: ``:key``, ``:keyword``)
_SPHINX_PARAM = r"^\s*:(?:param|parameter|arg|argument|key|keyword)"


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Description and per-parameter descriptions from a Google, NumPy or Sphinx docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    params: dict[str, str] = {}
    desc: list[str] = []
    if any(re.match(_SPHINX_PARAM + r"\s", ln) for ln in lines):  # Sphinx
        cur = None
        for ln in lines:
            m = re.match(_SPHINX_PARAM + r"\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$", ln)
            if m:
                cur = m.group(1)
                params[cur] = m.group(2).strip()
            elif re.match(r"^\s*:\w+", ln):
                cur = None
            elif cur and ln.strip():
                params[cur] = (params[cur] + " " + ln.strip()).strip()
            elif not params and cur is None:
                desc.append(ln)
        return "\n".join(desc).strip(), params
    i, section, style = 0, None, None
    while i < len(lines):
        ln, stripped = lines[i], lines[i].strip()
        if stripped and i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            section, style = stripped.lower(), "numpy"
            i += 2
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z ]*):", stripped)
        if m and m.group(1).lower() in _SECTIONS:
            section, style = m.group(1).lower(), "google"
            i += 1
            continue
        if section is None:
            desc.append(ln)
            i += 1
            continue
        indent = len(ln) - len(ln.lstrip())
        if section in _PARAM_SECTIONS and stripped:
            if style == "google":
                m = re.match(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", ln)
                text = m.group(2) if m else ""
            else:
                m = re.match(r"^\s*(\w+)\s*(?::.*)?$", ln)
                text = ""
            if m:
                j = i + 1
                while j < len(lines) and lines[j].strip() and len(lines[j]) - len(lines[j].lstrip()) > indent:
                    text += " " + lines[j].strip()
                    j += 1
                params[m.group(1)] = text.strip()
                i = j
                continue
        i += 1
    return "\n".join(desc).strip(), params


def _from_callable(fn, i: int, problems: list[Problem]) -> ToolSpec | None:
    import pydantic

    name = getattr(fn, "__name__", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(Problem(f"/{i}", f"callable {fn!r} has no usable name (got {name!r})"))
        return None
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        problems.append(Problem(f"/{i}", f"cannot read the signature of {name}: {e}"))
        return None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as e:  # unresolved forward references, etc.
        problems.append(Problem(f"/{i}", f"cannot resolve the type hints of {name}: {e}"))
        return None
    desc, pdesc = parse_docstring(inspect.getdoc(fn) or "")
    fields: dict[str, Any] = {}
    n0 = len(problems)
    for pname, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            problems.append(Problem(f"/{i}/{pname}", f"{name}: *args/**kwargs cannot be tool arguments"))
            continue
        if p.kind == p.POSITIONAL_ONLY:
            problems.append(Problem(f"/{i}/{pname}", f"{name}: positional-only parameter {pname!r} cannot be passed by name"))
            continue
        ann = hints.get(pname, Any)
        default = p.default if p.default is not inspect.Parameter.empty else ...
        fields[pname] = (ann, pydantic.Field(default, description=pdesc.get(pname) or None))
    if len(problems) > n0:
        return None
    try:
        model = pydantic.create_model(f"{name}_arguments", **fields)
        schema = model.model_json_schema()
    except Exception as e:
        problems.append(Problem(f"/{i}", f"the arguments of {name} have no JSON Schema: {e}"))
        return None
    schema = {k: v for k, v in _strip_titles(schema).items() if k not in ("description",)}
    params = _check_parameters(schema, f"/{i}", problems)
    if params is None:
        return None
    return ToolSpec(name=name, description=desc, parameters=params, function=fn, model=model, pointer=f"/{i}")


def _is_pydantic_model(obj) -> bool:
    try:
        import pydantic
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, type) and issubclass(obj, pydantic.BaseModel)


# a callable's or pydantic model's ToolSpec by the object's identity (reading a signature and
# building its JSON Schema costs ~1 ms; a repeated call costs a lookup). Entries hold the object
# weakly and go when it does; the cached spec holds neither the object nor anything from the
# caller's input, so a lambda or closure that dies is not kept alive. Objects that cannot be
# weakly referenced are normalised every time.
_by_id: dict[int, tuple[weakref.ref, ToolSpec]] = {}
_by_id_lock = threading.Lock()


def _forget(key: int, ref: weakref.ref) -> None:
    with _by_id_lock:
        if _by_id.get(key, (None,))[0] is ref:
            del _by_id[key]


def _by_identity(obj, i: int, problems: list[Problem], make) -> ToolSpec | None:
    hit = _by_id.get(id(obj))
    if hit is not None and hit[0]() is obj:
        spec = hit[1]
        return replace(spec, parameters=_json_copy(spec.parameters), pointer=f"/{i}",
                       function=obj if make is _from_callable else None,
                       model=obj if make is _from_pydantic else spec.model)
    spec = make(obj, i, problems)
    if spec is None:
        return None
    try:
        ref = weakref.ref(obj, lambda r, key=id(obj): _forget(key, r))
    except TypeError:
        return spec
    kept = replace(spec, parameters=_json_copy(spec.parameters), pointer="",
                   function=None, model=None if make is _from_pydantic else spec.model)
    with _by_id_lock:
        _by_id[id(obj)] = (ref, kept)
    return spec


def normalize_tools(tools) -> list[ToolSpec]:
    """Normalise tools of any accepted shape into `ToolSpec`s. Raises `SchemaError` listing
    every problem (with JSON pointers into `tools`)."""
    if tools is None:
        return []
    if isinstance(tools, (dict, ToolSpec)) or callable(tools) and not isinstance(tools, (list, tuple)):
        tools = [tools]
    if not isinstance(tools, (list, tuple)):
        raise SchemaError([Problem("", f"tools must be a list, got {type(tools).__name__}")])
    problems: list[Problem] = []
    specs: list[ToolSpec] = []
    for i, t in enumerate(tools):
        spec: ToolSpec | None
        if isinstance(t, ToolSpec):
            spec = t
        elif isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) and isinstance(t[1], dict):
            spec = _from_dict({"name": t[0], "parameters": t[1]}, i, problems)
        elif isinstance(t, dict):
            spec = _from_dict(t, i, problems)
        elif _is_pydantic_model(t):
            spec = _by_identity(t, i, problems, _from_pydantic)
        elif callable(t):
            spec = _by_identity(t, i, problems, _from_callable)
        else:
            problems.append(Problem(f"/{i}", f"cannot make a tool of {type(t).__name__}: give an OpenAI tool dict, a pydantic model or a callable"))
            spec = None
        if spec is not None:
            specs.append(spec)
    seen: dict[str, int] = {}
    for s in specs:
        if s.name in seen:
            problems.append(Problem(s.pointer.rsplit("/parameters", 1)[0] + "/name", f"duplicate tool name {s.name!r}" + (f" (from {s.original_name!r})" if s.original_name != s.name else "")))
        seen[s.name] = 1
    if problems:
        raise SchemaError(problems)
    return specs


def closest(name: str, options) -> str:
    """A 'Did you mean ...?' suffix, or ''."""
    m = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return f" Did you mean {m[0]!r}?" if m else ""
