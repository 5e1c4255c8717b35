"""Schema algebra: combining schemas that must all hold (allOf, a $ref with siblings, an anyOf
branch with its parent's keywords), telling disjoint branches apart, and inferring a missing
type. Conservative: what cannot be merged exactly is reported by the caller to the validator."""

from __future__ import annotations

import json

from .notes import ANNOTATIONS


def canon(obj) -> str:
    """A schema's canonical text (the memo key of its compiled rule)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)



def is_structured(schema: dict) -> bool:
    """Whether the schema's values are containers or unions (compiled into a rule of their own)."""
    t = schema.get("type")
    ts = [t] if isinstance(t, str) else (t or [])
    return bool({"object", "array"} & set(ts)) or any(k in schema for k in ("properties", "items", "prefixItems", "anyOf", "oneOf", "allOf"))


def infer_types(schema: dict):
    """The type a schema without `type` implies through its keywords, or None."""
    if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties", "maxProperties")):
        return ["object"]
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return ["array"]
    if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
        return ["string"]
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return ["number"]
    return None


def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), "other")


def disjoint_types(branches) -> bool:
    """Whether no value can satisfy two branches: distinct single types, and constant values
    that are distinct and of types no typed branch has."""
    values, types = set(), set()
    value_types = set()
    for b in branches:
        if not isinstance(b, dict):
            return False
        if "const" in b or "enum" in b:
            vals = [b["const"]] if "const" in b else b["enum"]
            for v in vals:
                k = canon(v)
                if k in values:
                    return False
                values.add(k)
                value_types.add(_json_type(v))
            continue
        t = b.get("type")
        if not isinstance(t, str):
            return False
        t = "number" if t == "integer" else t
        if t in types:
            return False
        types.add(t)
    return not (types & value_types)


def merge_pair(a: dict, b: dict):
    """Merge two schemas that must both hold (a conservative allOf). None if not mergeable."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
        elif k == "properties":
            props = dict(out[k])
            for pk, pv in v.items():
                if pk in props and props[pk] != pv:
                    m = merge_pair(props[pk], pv) if isinstance(props[pk], dict) and isinstance(pv, dict) else None
                    if m is None:
                        return None
                    props[pk] = m
                else:
                    props[pk] = pv
            out[k] = props
        elif k == "required":
            out[k] = list(dict.fromkeys(list(out[k]) + list(v)))
        elif k == "type":
            ta = {out[k]} if isinstance(out[k], str) else set(out[k])
            tb = {v} if isinstance(v, str) else set(v)
            both = ta & tb
            if "number" in ta and "integer" in tb or "number" in tb and "integer" in ta:
                both.add("integer")
            if not both:
                return None
            out[k] = sorted(both)[0] if len(both) == 1 else sorted(both)
        elif k in ("minimum", "minLength", "minItems", "exclusiveMinimum", "minProperties"):
            out[k] = max(out[k], v)
        elif k in ("maximum", "maxLength", "maxItems", "exclusiveMaximum", "maxProperties"):
            out[k] = min(out[k], v)
        elif k in ANNOTATIONS:
            continue
        elif out[k] != v:
            return None
    return out


def merge_all_of(schema: dict):
    """`schema` with its allOf branches merged in, and whether every branch could be merged
    (the branches that could not are left to the validator)."""
    base = {k: v for k, v in schema.items() if k != "allOf"}
    ok = True
    for br in schema["allOf"]:
        if isinstance(br, dict) and "$ref" in br:
            ok = False  # references inside allOf: keep the first, validator checks the rest
            if "$ref" not in base:
                m = merge_pair(base, br)
                if m is not None:
                    base = m
            continue
        m = merge_pair(base, br) if isinstance(br, dict) else None
        if m is None:
            ok = False
        else:
            base = m
    return base, ok
