"""`SchemaCompiler`: JSON Schema -> nodes of one `Grammar`.

The compiler keeps the bookkeeping (rule names, notes, the memo of compiled sub-schemas, $ref
resolution, the finiteness check of recursive schemas) and dispatches on the schema's keywords;
the rules for scalars and containers live in `scalars.py` and `containers.py`, and everything
that differs between JSON and Python literals in `syntax.py`.
"""

from __future__ import annotations

import re

from ..errors import Problem, SchemaError, UnsupportedSchemaError
from ..grammar import EMPTY, Alt, Grammar, Lit, Node, Ref, Rep, Seq, alt, opt, seq
from .containers import ContainerRules
from .merge import canon, disjoint_types, infer_types, is_structured, merge_all_of, merge_pair
from ..pointer import PointerError, join, resolve_ref
from .notes import ANNOTATIONS, VALIDATOR_ONLY, Limits, SchemaNote
from .scalars import ScalarRules
from .syntax import COLON, COMMA, DIGIT, DIGIT19, SYNTAXES


class SchemaCompiler(ScalarRules, ContainerRules):
    """Compiles JSON Schemas into nodes of one `Grammar`.

    Args:
        grammar: the grammar that receives the named rules (objects, arrays, $refs).
        syntax: "json" (JSON values) or "python" (Python literals: True/False/None).
        limits: caps for unbounded values.
        strict: raise `UnsupportedSchemaError` instead of recording unenforced keywords.
    """

    def __init__(self, grammar: Grammar, *, syntax: str = "json", limits: Limits | None = None, strict: bool = False):
        if syntax not in SYNTAXES:
            raise ValueError(f"syntax must be 'json' or 'python', got {syntax!r}")
        self.g = grammar
        self.syntax = syntax
        self.lang = SYNTAXES[syntax]
        self.limits = limits or Limits()
        self.strict = strict
        self.unenforced: list[SchemaNote] = []
        self.capped: list[SchemaNote] = []
        self._seen_notes: set[SchemaNote] = set()
        self._memo: dict[str, Ref] = {}
        self._refs: dict[tuple[int, str], Ref] = {}
        self._ref_pointers: dict[str, str] = {}
        self._n = 0
        self._root = None
        self._root_pointer = ""

    # -- bookkeeping
    def _rule(self, hint) -> str:
        self._n += 1
        base = re.sub(r"[^a-z0-9_]", "_", str(hint).lower())[:24].strip("_")
        if not base or not base[0].isalpha():
            base = "r_" + base
        return f"{base}_{self.lang.tag}{self._n}"

    def _add(self, dst: list, note: SchemaNote) -> None:
        if note not in self._seen_notes:
            self._seen_notes.add(note)
            dst.append(note)

    def note_unenforced(self, pointer: str, keyword: str, detail: str) -> None:
        if self.strict:
            raise UnsupportedSchemaError(keyword, pointer, detail)
        self._add(self.unenforced, SchemaNote(pointer, keyword, detail))

    def note_cap(self, pointer: str, keyword: str, detail: str) -> None:
        self._add(self.capped, SchemaNote(pointer, keyword, detail))

    # -- entry point
    def compile_root(self, schema: dict, pointer: str) -> Node:
        """Compile a tool's parameter schema (the root of its own $ref namespace)."""
        self._root, self._root_pointer = schema, pointer
        n_refs = len(self._refs)
        node = self.value(schema, pointer)
        if len(self._refs) > n_refs:
            self._check_finite(node, pointer)
        return node

    def _check_finite(self, node: Node, pointer: str) -> None:
        """Raise SchemaError when a recursive schema has no finite instance (every value would
        have to contain another, e.g. a required property that refers back to its object): no
        output could ever complete."""
        rules = self.g.rules
        reach: list[str] = []
        seen: set[str] = set()
        todo = [node]
        while todo:
            for name in self.g.refs(todo.pop()):
                if name not in seen:
                    seen.add(name)
                    reach.append(name)
                    todo.append(rules[name])
        done: set[str] = set()

        def finite(n: Node) -> bool:
            if isinstance(n, Ref):
                return n.name in done
            if isinstance(n, Seq):
                return all(finite(i) for i in n.items)
            if isinstance(n, Alt):
                return any(finite(i) for i in n.items)
            if isinstance(n, Rep):
                return n.min == 0 or finite(n.item)
            return True

        changed = True
        while changed:
            changed = False
            for name in reach:
                if name not in done and finite(rules[name]):
                    done.add(name)
                    changed = True
        stuck = [r for r in reach if r not in done]
        if not stuck and finite(node):
            return
        # a rule with no finite derivation is a dead end even on an optional path: a model that
        # starts such a value could never finish it
        where = sorted({self._ref_pointers[r] for r in stuck if r in self._ref_pointers}) or [pointer]
        raise SchemaError([Problem(p, "recursive schema with no finite value: every instance must contain another one "
                                      "(through required properties, minItems or the like), so no output could complete") for p in where])

    def compile_kwargs(self, schema: dict, pointer: str) -> Node:
        """A tool's parameters as Python keyword arguments ``k=v, ...`` (pythonic format)."""
        self._root, self._root_pointer = schema, pointer
        if "allOf" in schema:
            schema, ok = merge_all_of(schema)
            if not ok:
                self.note_unenforced(f"{pointer}/allOf", "allOf", "only the mergeable branches are in the grammar; the rest is checked by the validator")
        for kw in schema:
            if kw in VALIDATOR_ONLY or kw in ("anyOf", "oneOf", "minProperties", "maxProperties"):
                self.note_unenforced(join(pointer, kw), kw, "not expressible in keyword arguments; checked by the validator after decoding")
        props = schema.get("properties") or {}
        bad = list(dict.fromkeys(k for k in list(props) + list(schema.get("required") or []) if not is_identifier(k)))
        if bad:
            raise SchemaError([Problem(join(pointer, "properties", k), f"argument name {k!r} is not a Python identifier (or is a keyword), so it cannot be a keyword argument in the pythonic format") for k in bad])
        addl = schema.get("additionalProperties")
        if "patternProperties" in schema:
            self.note_cap(f"{pointer}/patternProperties", "patternProperties", "pythonic format: keyword arguments matching patternProperties are not generated; only declared properties are")
        if "properties" not in schema and not schema.get("required") and addl is not False and "patternProperties" not in schema:
            self.note_cap(pointer, "additionalProperties", "pythonic format: free-form keyword arguments are not generated; only declared properties are")
        elif addl is None:
            self._note_closed(pointer)
        elif addl is not False:
            self.note_cap(f"{pointer}/additionalProperties", "additionalProperties", "pythonic format: additional keyword arguments are not generated; only declared properties are")
        n_refs = len(self._refs)
        node = self.properties_body(schema, pointer, 0, key=lambda k: f"{k}=")
        if len(self._refs) > n_refs:
            self._check_finite(node, pointer)
        return node

    def value(self, schema, pointer: str, depth: int = 0) -> Node:
        if schema is True or schema == {}:
            return self.any_value(pointer, self.limits.max_any_depth)
        if schema is False:
            raise SchemaError([Problem(pointer, "schema `false` admits no value")])
        if not isinstance(schema, dict):
            raise SchemaError([Problem(pointer, f"a schema must be an object or boolean, got {type(schema).__name__}")])
        if depth > 64:
            raise SchemaError([Problem(pointer, "schema nesting deeper than 64 levels")])
        text = canon(schema)
        key = (self._root_pointer + "|" + text) if "$ref" in text else text
        hit = self._memo.get(key)
        if hit is not None:
            ref, old_ptr, u_notes, c_notes = hit
            # the same sub-schema elsewhere: same rule, and the same notes at this pointer
            for src, dst in ((u_notes, self.unenforced), (c_notes, self.capped)):
                for n in src:
                    self._add(dst, SchemaNote(pointer + n.pointer[len(old_ptr):], n.keyword, n.detail))
            return ref
        u0, c0 = len(self.unenforced), len(self.capped)
        node = self._value(schema, pointer, depth)
        # share compiled structured values by rule (dedup identical sub-schemas)
        if isinstance(node, (Ref,)) or not is_structured(schema):
            return node
        name = self._rule(schema.get("title") or pointer.rsplit("/", 1)[-1] or "value")
        ref = self.g.add(name, node)
        notes_u = [n for n in self.unenforced[u0:] if n.pointer.startswith(pointer)]
        notes_c = [n for n in self.capped[c0:] if n.pointer.startswith(pointer)]
        self._memo[key] = (ref, pointer, notes_u, notes_c)
        return ref

    def _value(self, schema: dict, pointer: str, depth: int) -> Node:
        for kw in schema:
            if kw in VALIDATOR_ONLY:
                self.note_unenforced(join(pointer, kw), kw, "not expressible in the grammar; checked by the validator after decoding")
        if "$ref" in schema:
            return self._ref(schema, pointer, depth)
        if "allOf" in schema:
            merged, ok = merge_all_of(schema)
            if not ok:
                self.note_unenforced(f"{pointer}/allOf", "allOf", "only the first mergeable branches are in the grammar; the rest is checked by the validator")
            return self.value(merged, pointer, depth + 1)
        if "anyOf" in schema or "oneOf" in schema:
            kw = "anyOf" if "anyOf" in schema else "oneOf"
            branches = schema[kw]
            base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            if "anyOf" in schema and "oneOf" in schema:
                self.note_unenforced(f"{pointer}/oneOf", "oneOf", "only anyOf is in the grammar when both are given")
            if kw == "oneOf" and not disjoint_types(branches):
                self.note_unenforced(f"{pointer}/oneOf", "oneOf", "exactly-one is checked by the validator; the grammar admits any branch")
            nodes = []
            for i, br in enumerate(branches):
                if br is False:
                    continue
                sub = merge_pair(base, br) if base and isinstance(br, dict) else br
                if sub is None:
                    sub = br
                    self.note_unenforced(pointer, kw, f"branch {i} could not be merged with its parent schema; the parent's keywords are checked by the validator")
                nodes.append(self.value(sub, f"{pointer}/{kw}/{i}", depth + 1))
            if not nodes:
                raise SchemaError([Problem(f"{pointer}/{kw}", f"{kw} admits no value")])
            return alt(*nodes)
        if "enum" in schema or "const" in schema:
            return self._enum(schema, pointer)
        types = schema.get("type")
        if types is None:
            types = infer_types(schema)
            if types is None:
                return self.any_value(pointer, self.limits.max_any_depth)
        if isinstance(types, str):
            types = [types]
        if schema.get("nullable") is True and "null" not in types:
            types = list(types) + ["null"]
        nodes = [self._typed(t, schema, pointer, depth) for t in types]
        return alt(*nodes)

    def _ref(self, schema: dict, pointer: str, depth: int) -> Node:
        ref = schema["$ref"]
        target, tptr = self._resolve(ref, f"{pointer}/$ref")
        siblings = {k: v for k, v in schema.items() if k != "$ref" and k not in ANNOTATIONS}
        if siblings:
            merged = merge_pair(target, siblings)
            if merged is None:
                self.note_unenforced(pointer, "$ref", "keywords beside $ref could not be merged; checked by the validator")
                merged = target
            merged = {k: v for k, v in merged.items() if k != "$ref"} if "$ref" not in target else merged
            return self.value(merged, pointer, depth + 1)
        key = (id(self._root), tptr)
        hit = self._refs.get(key)
        if hit is not None:
            return hit
        name = self._rule("ref_" + tptr.rsplit("/", 1)[-1])
        self._ref_pointers[name] = tptr or "/"
        r = Ref(name)
        self._refs[key] = r
        self.g.rules[name] = EMPTY  # placeholder for recursion
        self.g.rules[name] = self._value(target, tptr, depth + 1) if isinstance(target, dict) else self.value(target, tptr, depth + 1)
        return r

    def _resolve(self, ref: str, pointer: str):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError([Problem(pointer, f"only local $ref ('#/...') is supported, got {ref!r}")])
        try:
            doc = resolve_ref(self._root, ref)
        except PointerError as e:
            raise SchemaError([Problem(pointer, f"$ref {ref!r} points nowhere ({e.reason})")]) from None
        return doc, self._root_pointer + ref[1:]

    # -- scalars

    def _typed(self, t: str, schema: dict, pointer: str, depth: int) -> Node:
        if t == "null":
            return Lit(self.lang.null)
        if t == "boolean":
            return alt(Lit(self.lang.true), Lit(self.lang.false))
        if t == "integer":
            return self._integer(schema, pointer)
        if t == "number":
            return self._number(schema, pointer)
        if t == "string":
            return self._string(schema, pointer)
        if t == "array":
            return self._array(schema, pointer, depth)
        if t == "object":
            return self._object(schema, pointer, depth)
        raise SchemaError([Problem(f"{pointer}/type", f"unknown type {t!r}")])


    def any_value(self, pointer: str, depth: int) -> Node:
        """Any JSON value, nested at most `depth` levels (a cap, recorded)."""
        self.note_cap(pointer, "any", f"free-form value nested at most {self.limits.max_any_depth} levels; strings, numbers and containers capped as in Limits")
        name = f"any{max(depth, 0)}_{self.lang.tag}"
        if name in self.g.rules:
            return Ref(name)
        d = self.limits.max_number_digits
        text = self.lang.string(0, self.limits.max_string_length)  # Python: 'inches' too
        scalar = alt(
            text,
            seq(opt(Lit("-")), alt(Lit("0"), seq(DIGIT19, Rep(DIGIT, 0, d - 1))), opt(seq(Lit("."), Rep(DIGIT, 1, d)))),
            *self.lang.constants(),
        )
        if depth <= 0:
            self.g.rules[name] = scalar
            return Ref(name)
        self.g.rules[name] = EMPTY
        inner = self.any_value(pointer, depth - 1)
        pair = seq(text, COLON, inner)
        n_arr, n_obj = self.limits.max_array_items, self.limits.max_object_properties
        arr = seq(Lit("["), opt(seq(inner, Rep(seq(COMMA, inner), 0, n_arr - 1))), Lit("]"))
        obj = seq(Lit("{"), opt(seq(pair, Rep(seq(COMMA, pair), 0, n_obj - 1))), Lit("}"))
        self.g.rules[name] = alt(scalar, arr, obj)
        return Ref(name)



def is_identifier(name) -> bool:
    """A valid Python keyword-argument / function name (identifiers that are not keywords)."""
    import keyword

    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
