"""Calls -> canonical model text in an output format (the inverse of `parse_calls`).

Arguments are written with canonical separators and object keys in schema order, which is the
one order the grammar admits; `render_calls(...)` output is therefore always in the grammar of
the same tools (tested), and is what training targets and gold answers use.
"""

from __future__ import annotations

import json

from .formats import check_format, load_format
from .pointer import resolve_ref
from .schema import render_literal
from .tools import ToolSpec, normalize_tools

__all__ = ["render_calls", "order_arguments"]


def _resolve(schema, root):
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        doc = resolve_ref(root, schema["$ref"])
        merged = dict(doc) if isinstance(doc, dict) else {}
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        schema = merged if len(schema) > 1 else doc
        seen += 1
    return schema


def _key_matches(pattern: str, key: str) -> bool:
    from .patterns import PatternUndecided, search

    try:
        return search(pattern, key)
    except PatternUndecided:
        return False


def order_arguments(value, schema, root=None):
    """`value` with object keys in the order of the schema's ``properties`` (recursively)."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return value
    for kw in ("anyOf", "oneOf"):
        if kw in schema:
            from jsonschema import Draft202012Validator

            for br in schema[kw]:
                try:
                    sub = dict(root, **_resolve(br, root)) if isinstance(br, dict) else br
                    if Draft202012Validator(sub).is_valid(value):
                        return order_arguments(value, br, root)
                except Exception:  # an unresolvable branch: try the next one
                    continue
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for br in schema["allOf"]:
            br = _resolve(br, root)
            if isinstance(br, dict):
                props = dict(merged.get("properties", {}))
                props.update(br.get("properties", {}))
                merged = {**br, **merged, "properties": props}
        schema = merged
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        out = {}
        for k in props:
            if k in value:
                out[k] = order_arguments(value[k], props[k], root)
        for k in (schema.get("required") or []):
            if k in value and k not in out:
                out[k] = value[k]
        addl = schema.get("additionalProperties")
        pprops = schema.get("patternProperties") or {}
        for k, v in value.items():
            if k not in out:
                sub = next((s for p, s in pprops.items() if _key_matches(p, k)), addl)
                out[k] = order_arguments(v, sub, root) if isinstance(sub, dict) else v
        return out
    if isinstance(value, list):
        prefix = schema.get("prefixItems") or []
        items = schema.get("items")
        return [
            order_arguments(v, prefix[i] if i < len(prefix) else items, root) if (i < len(prefix) or isinstance(items, dict)) else v
            for i, v in enumerate(value)
        ]
    return value


def _quoted_literal(v, q: str) -> str:
    """A value in FunctionGemma's notation: text between `q` marks, bare keys."""
    if isinstance(v, str):
        return q + v + q
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_quoted_literal(x, q)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_quoted_literal(x, q) for x in v) + "]"
    return render_literal(v)


def _call_body(name: str, args: dict, spec: ToolSpec | None, fmt, index: int = 0) -> str:
    if spec is not None:
        args = order_arguments(args, spec.parameters)
    if fmt.body == "xml":
        fn_open, p_open, p_close, fn_close = fmt.xml_parts
        props = (spec.parameters.get("properties") or {}) if spec is not None else {}
        parts = []
        q = fmt.xml_quote
        for k, v in args.items():
            raw = isinstance(v, str) and (spec is None or fmt.raw_value(props.get(k)))
            text = q + v + q if raw else (_quoted_literal(v, q) if q else render_literal(v))
            parts.append(p_open.format(key=k, string="true" if raw else "false") + text + p_close)
        return fmt.fn_open(name) + fmt.xml_separator.join(parts) + fn_close
    if fmt.call_template:
        pre, _, post = fmt.call_parts()
        return pre + name + fmt.call_mid(index) + render_literal(args) + post
    if fmt.body == "python":
        inner = ", ".join(f"{k}={render_literal(v, 'python')}" for k, v in args.items())
        return f"{name}({inner})"
    return "{" + f'{json.dumps(fmt.name_key)}: {json.dumps(name, ensure_ascii=False)}, {json.dumps(fmt.arguments_key)}: {render_literal(args)}' + "}"


def render_calls(calls, format: str = "hermes", *, tools=None, content: str = "") -> str:
    """Render calls as the model should write them.

    Args:
        calls: a list of `ToolCall`s, ``(name, arguments)`` pairs or ``{"name", "arguments"}``
            dicts. An empty list renders `content` alone (a plain-text answer), or the
            format's own "no call" text (SmolLM2's empty list) when there is no content.
        format: output format.
        tools: the tools, to order argument keys as the grammar does (recommended).
        content: text before the calls (only where the format allows it, i.e. hermes).
    """
    fmt = load_format(check_format(format))
    specs = {s.name: s for s in normalize_tools(tools)} if tools is not None else {}
    norm = []
    for c in calls:
        if isinstance(c, dict):
            name, args = c["name"], c.get("arguments", {})
        elif isinstance(c, (tuple, list)):
            name, args = c
        else:
            name, args = c.name, c.arguments
        norm.append((name, args))
    if not norm:
        return content if content or fmt.no_call is None else fmt.no_call
    if content and not fmt.text_before_call:
        raise ValueError(f"the {fmt.name} format does not allow text before the calls")
    bodies = [_call_body(n, a, specs.get(n), fmt, i) for i, (n, a) in enumerate(norm)]
    return content + fmt.wrap(bodies)
