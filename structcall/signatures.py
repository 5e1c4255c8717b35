"""Tool lists for prompts: full JSON schemas, compact signatures, or names only.

A prompt can describe tools in three views (``TOOL_VIEWS``):

* ``"full"``: one JSON object per tool (name, description, the whole parameters schema);
* ``"compact"``: one line per tool, ``name(arg: type, opt?: type = default) - first line``,
  with Python-style types (``str``, ``int``, ``float``, ``bool``, ``list[T]``, ``{k: T}``,
  enums as ``"a"|"b"``);
* ``"names"``: one line per tool, ``name - first line`` (no arguments at all).

The view only changes what the model reads. The grammar is always compiled from the full
schemas (types, enums, bounds, required keys, nested objects), so a call is held to its tool's
whole schema whichever view the prompt used. `tool_list_tokens` measures what a view costs.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from .tools import ToolSpec, normalize_tools

__all__ = ["TOOL_VIEWS", "check_view", "compact_signature", "name_line", "render_tool_list",
           "tool_list_tokens", "type_hint"]

TOOL_VIEWS = ("full", "compact", "names")
"""How a prompt shows tools (see the module docstring)."""

_MAX_ENUM = 8  # enum values shown before "..." (the grammar keeps all of them)
_MAX_DEPTH = 2  # nested objects shown as {k: T} down to this depth, then "dict"
_MAX_DESC = 120  # characters of a description's first sentence


def check_view(view: Any) -> str:
    """``view`` if it is one of `TOOL_VIEWS`, else a ValueError naming the choices."""
    if view not in TOOL_VIEWS:
        raise ValueError(f"tool_prompt must be one of {list(TOOL_VIEWS)}, got {view!r}")
    return view


def first_line(text: str | None) -> str:
    """The first sentence (or line) of ``text``, at most ``_MAX_DESC`` characters."""
    text = " ".join((text or "").split())
    if not text:
        return ""
    m = re.search(r"(?<=[.!?])\s", text)
    line = text[: m.start()] if m else text
    if len(line) > _MAX_DESC:
        line = line[: _MAX_DESC - 3].rstrip() + "..."
    return line


_SIMPLE = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None",
           "array": "list", "object": "dict"}


def type_hint(schema: Any, depth: int = 0) -> str:
    """A short Python-style type for a JSON Schema (what the compact view prints)."""
    if schema is True or not isinstance(schema, dict) or not schema:
        return "any"
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if "enum" in schema:
        values = [json.dumps(v, ensure_ascii=False) for v in schema["enum"]]
        if len(values) > _MAX_ENUM:
            values = values[:_MAX_ENUM] + ["..."]
        return "|".join(values) if values else "never"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return "|".join(dict.fromkeys(type_hint(s, depth) for s in schema[key]))
    if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        return type_hint(schema["allOf"][0], depth)
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1] or "any"
    t = schema.get("type")
    if isinstance(t, list):
        return "|".join(type_hint({**schema, "type": one}, depth) for one in t)
    if t == "array" or (t is None and ("items" in schema or "prefixItems" in schema)):
        items = schema.get("items")
        if isinstance(schema.get("prefixItems"), list):
            return "tuple[" + ", ".join(type_hint(s, depth + 1) for s in schema["prefixItems"]) + "]"
        return f"list[{type_hint(items, depth + 1)}]" if isinstance(items, dict) and items else "list"
    if t == "object" or (t is None and "properties" in schema):
        props = schema.get("properties")
        if isinstance(props, dict) and props and depth < _MAX_DEPTH:
            return "{" + ", ".join(_params(props, schema.get("required") or [], depth + 1)) + "}"
        return "dict"
    if isinstance(t, str):
        return _SIMPLE.get(t, t)
    return "any"


def _params(props: dict, required: Iterable[str], depth: int) -> list[str]:
    req = set(required)
    out = []
    for name, sub in props.items():
        hint = type_hint(sub, depth)
        if name in req:
            out.append(f"{name}: {hint}")
        else:
            has_default = isinstance(sub, dict) and "default" in sub
            tail = f" = {json.dumps(sub['default'], ensure_ascii=False)}" if has_default else ""
            out.append(f"{name}?: {hint}{tail}")
    return out


def _described(head: str, description: str) -> str:
    line = first_line(description)
    return f"{head} - {line}" if line else head


def compact_signature(spec: ToolSpec) -> str:
    """``name(arg: type, opt?: type = default) - first line of the description``."""
    params = spec.parameters if isinstance(spec.parameters, dict) else {}
    props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    args = ", ".join(_params(props, params.get("required") or [], 0))
    if params.get("additionalProperties") not in (None, False) or params.get("patternProperties"):
        args = f"{args}, **kwargs" if args else "**kwargs"
    return _described(f"{spec.name}({args})", spec.description)


def name_line(spec: ToolSpec) -> str:
    """``name - first line of the description``."""
    return _described(spec.name, spec.description)


def render_tool_list(tools: Any, view: str = "full") -> str:
    """The tool list of a prompt in ``view``: one JSON object or one line per tool.

    ``tools`` is anything `structcall.tools.normalize_tools` takes (ToolSpecs pass through).
    """
    check_view(view)
    specs = normalize_tools(tools)
    if view == "full":
        return "\n".join(json.dumps(s.to_openai(), ensure_ascii=False) for s in specs)
    line = compact_signature if view == "compact" else name_line
    return "\n".join(line(s) for s in specs)


def tool_list_tokens(tokenizer: Any, tools: Any, view: str = "full") -> int:
    """How many tokens ``tokenizer`` spends on the tool list of ``view`` (no special tokens)."""
    return len(tokenizer(render_tool_list(tools, view), add_special_tokens=False)["input_ids"])
