"""Rules for containers: arrays (items, prefixItems), and objects (declared properties in
schema order, patternProperties, additional keys that never repeat a declared one)."""

from __future__ import annotations

import re

from ..errors import Problem, SchemaError
from ..grammar import EMPTY, Chars, Lit, Node, Rep, alt, opt, seq
from ..patterns import PatternUndecided, search
from ..pointer import join
from .regex import CONTROL_ESCAPES, PatternCompiler, PatternUnsupported, encode_class, encode_literal_char
from .syntax import ANY_DECODED, COLON, COMMA


def _trie(keys) -> dict:
    """The character trie of `keys`: nested dicts, with ``None: True`` where a key ends."""
    trie: dict = {}
    for k in keys:
        t = trie
        for c in k:
            t = t.setdefault(c, {})
        t[None] = True
    return trie


class ContainerRules:
    """The container half of `SchemaCompiler` (a mixin: it uses the compiler's notes, limits,
    rules and `value`)."""

    # -- containers
    def _items_seq(self, item: Node, lo: int, hi: int) -> Node:
        sep = COMMA
        if hi == 0:
            return Lit("[]")
        if lo == 0:
            return seq(Lit("["), opt(seq(item, Rep(seq(sep, item), 0, hi - 1))), Lit("]"))
        return seq(Lit("["), item, Rep(seq(sep, item), lo - 1, hi - 1), Lit("]"))

    def _array(self, schema: dict, pointer: str, depth: int) -> Node:
        lo = int(schema.get("minItems", 0) or 0)
        hi = schema.get("maxItems")
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        if hi is None:
            hi = max(lo, self.limits.max_array_items, len(prefix or []))
            if not (prefix and items is False):
                self.note_cap(pointer, "maxItems", f"array limited to {hi} items")
        hi = int(hi)
        if lo > hi:
            raise SchemaError([Problem(pointer, f"minItems {lo} > maxItems {hi}")])
        if not prefix:
            if items is False:
                return Lit("[]")
            item = self.value(items, f"{pointer}/items", depth + 1)
            return self._items_seq(item, lo, hi)
        # tuple: prefix items in order, then (optionally) more of `items`. Prefix-factored
        # ("[" a (", " b (", " rest)*)? "]"), never an Alt of whole unrolled arrays: those share
        # long prefixes that a greedy lexer cannot tell apart.
        pnodes = [self.value(s, f"{pointer}/prefixItems/{i}", depth + 1) for i, s in enumerate(prefix)]
        rest = None if items is False else self.value(items, f"{pointer}/items", depth + 1)
        m = len(pnodes)
        if rest is None and lo > m:
            raise SchemaError([Problem(pointer, "array bounds admit no value")])
        hi = min(hi, m) if rest is None else hi

        def after(k: int) -> Node:  # what may follow k emitted items
            if k >= m and k >= lo:
                more = hi - k
                return seq(Rep(seq(COMMA, rest), 0, more), Lit("]")) if rest is not None and more > 0 else Lit("]")
            nxt = pnodes[k] if k < m else rest
            cont = seq(COMMA, nxt, after(k + 1))
            return cont if k < lo else alt(Lit("]"), cont)

        if hi == 0:
            return Lit("[]")
        first = seq(pnodes[0], after(1))
        return seq(Lit("["), first if lo > 0 else alt(Lit("]"), first))

    def key_literal(self, key: str) -> Node:
        # the key as JSON writes it, and (Python) as repr does ({'lat': 1.5}); then a separator
        return seq(alt(*[Lit(t) for t in self.lang.constant_texts(key)]), COLON)

    def properties_body(self, schema: dict, pointer: str, depth: int, *, key=None, sep: str = ", ", nonempty: bool = False) -> Node | None:
        """The inside of an object with declared properties, in schema order; required ones
        must appear. `key(name) -> str | Node` renders a property key (JSON ``"k": `` by default,
        ``k=`` for Python keyword arguments). With `nonempty` (an object whose other keys follow
        the declared ones), only the bodies that emit at least one property (None when there are
        none), and each optional property is its own rule, so that a greedy lexer never has to
        end a token that could go on into an optional property where another key starts."""
        key = key or self.key_literal
        props = schema.get("properties") or {}
        required = list(schema.get("required") or [])
        entries = []
        for name, sub in props.items():
            if sub is False:  # a forbidden property: never emitted
                if name in required:
                    raise SchemaError([Problem(join(pointer, "properties", name), "a required property has schema false")])
                continue
            entries.append((name, sub, name in required, join(pointer, "properties", name)))
        addl = schema.get("additionalProperties")
        for name in required:
            if name not in props:
                if addl is False:
                    raise SchemaError([Problem(f"{pointer}/required", f"required property {name!r} is not in properties and additionalProperties is false: no value satisfies the schema")])
                entries.append((name, addl if isinstance(addl, dict) else True, True, f"{pointer}/additionalProperties"))
                if schema.get("patternProperties"):
                    self.note_unenforced(f"{pointer}/required", "patternProperties", f"required property {name!r} is not declared: a patternProperties schema its name matches is checked by the validator")
        keys = {name: key(name) for name, _, _, _ in entries}
        nodes = [(seq(Lit(keys[name]) if isinstance(keys[name], str) else keys[name], self.value(sub, ptr, depth + 1)), req)
                 for name, sub, req, ptr in entries]
        n = len(nodes)
        if n == 0:
            return None if nonempty else EMPTY
        s = COMMA if sep == ", " else Lit(sep)
        # tails[i]: what may follow once something was emitted, over properties i..n-1
        tails: list[Node] = [EMPTY] * (n + 1)
        for i in range(n - 1, -1, -1):
            p, req = nodes[i]
            step = seq(s, p) if req else opt(self.g.add(self._rule("opt"), seq(s, p)) if nonempty else seq(s, p))
            t = seq(step, tails[i + 1])
            if n > 6 and i < n - 1:
                t = self.g.add(self._rule("tail"), t)
            tails[i] = t
        heads: list[Node | None] = [None if nonempty else EMPTY] * (n + 1)
        for i in range(n - 1, -1, -1):
            p, req = nodes[i]
            first = seq(p, tails[i + 1])
            heads[i] = first if req or heads[i + 1] is None else alt(first, heads[i + 1])
        return heads[0]

    def _other_key(self, declared, pointer: str) -> Node:
        """A JSON string key that is none of `declared` (so an additional property never
        repeats a declared one), about max_string_length characters at most (a cap, recorded).

        Over the trie of the declared keys, a key that is not one of them is either a proper
        prefix of one (F), or a trie path followed by a character that leaves the trie and then
        anything (G, then A*). The escapes of quotes, backslashes and control characters leave
        the trie at every node when no declared key holds such a character, so they are written
        once (T, then ESC) instead of at every node: the rule stays small for many keys."""
        cap = self.limits.max_string_length
        self.note_cap(f"{pointer}/additionalProperties", "maxLength", f"keys of additional properties limited to about {cap} characters")
        anychar = encode_class(ANY_DECODED)
        python = self.lang.sq_char is not None
        if any(ord(c) < 0x20 or c in '"\\' for k in declared for c in k):
            if python:
                self.note_cap(f"{pointer}/additionalProperties", "additionalProperties", "declared keys hold quotes, backslashes or control characters: other keys are generated double-quoted only")
            return self._other_key_exact(declared, cap, anychar)
        dq = self._other_key_quoted(declared, cap, '"')
        if not python or any(c == "'" for k in declared for c in k):
            if python:
                self.note_cap(f"{pointer}/additionalProperties", "additionalProperties", "declared keys hold a single quote: other keys are generated double-quoted only")
            return dq
        return alt(dq, self._other_key_quoted(declared, cap, "'"))  # Python: {'Alex': ...} too

    def _other_key_quoted(self, declared, cap: int, quote: str) -> Node:
        """`_other_key` between `quote` marks (``"``, or ``'`` for Python literals), for
        declared keys without quotes, backslashes or control characters."""
        anychar = encode_class(ANY_DECODED, quote)
        trie = _trie(declared)
        # characters that are written as themselves in the string, less the trie's next ones
        cuts = [(0, 0x1F), (ord(quote), ord(quote)), (92, 92)]

        def kids(t):
            return [c for c in t if c is not None]

        def f(t) -> Node | None:  # proper prefixes of declared keys that are not keys
            parts = [] if t.get(None) else [EMPTY]
            for c in kids(t):
                sub = f(t[c])
                if sub is not None:
                    parts.append(seq(Lit(c), sub))
            return alt(*parts) if parts else None

        def g(t) -> Node:  # a trie path, then a plain character that leaves the trie
            leave = Chars.of(cuts + [(ord(c), ord(c)) for c in kids(t)], negated=True)
            return alt(leave, *[seq(Lit(c), g(t[c])) for c in kids(t)])

        def paths(t) -> Node:  # every trie path, the empty one included
            return alt(EMPTY, *[seq(Lit(c), paths(t[c])) for c in kids(t)])

        esc = alt(Lit("\\" + quote), Lit("\\\\"), CONTROL_ESCAPES)
        body = seq(alt(g(trie), seq(paths(trie), esc)), Rep(anychar, 0, cap - 1))
        fin = f(trie)
        return seq(Lit(quote), alt(fin, body) if fin is not None else body, Lit(quote))

    def _other_key_exact(self, declared, cap: int, anychar: Node) -> Node:
        """`_other_key` for declared keys that hold quotes, backslashes or control characters
        (each trie node lists the encodings that leave it)."""
        trie = _trie(declared)

        def rest(t: dict, d: int) -> Node:
            parts: list[Node] = [] if t.get(None) else [EMPTY]
            kids = [c for c in t if c is not None]
            if d < cap:
                other = Chars.of([(ord(c), ord(c)) for c in kids], negated=True)
                parts.append(seq(encode_class(other), Rep(anychar, 0, cap - d - 1)))
                for c in kids:
                    parts.append(seq(Lit(encode_literal_char(c)), rest(t[c], d + 1)))
            return alt(*parts) if parts else EMPTY

        return seq(Lit('"'), rest(trie, 0), Lit('"'))

    def _pattern_key(self, pattern: str, pointer: str) -> Node | None:
        """A JSON string key matching `pattern`, or None when the grammar cannot express it."""
        cap = self.limits.max_string_length
        try:
            pc = PatternCompiler(cap)
            body = pc.compile(pattern)
        except re.error as e:
            raise SchemaError([Problem(pointer, f"invalid regular expression: {e}")]) from None
        except (PatternUnsupported, RecursionError, OverflowError) as e:
            self.note_unenforced(pointer, "patternProperties", f"key pattern: {e} is not expressible in the grammar; any key is generated with this value schema and the validator checks the name")
            return None
        if pc.capped:
            self.note_cap(pointer, "patternProperties", f"keys matching the pattern limited to about {cap} characters")
        return seq(Lit('"'), body, Lit('"'))

    def _extra_entries(self, schema: dict, pointer: str, depth: int, closed: bool) -> list[Node]:
        """Entries beyond the declared properties: keys matching each patternProperties pattern
        with its value schema, then (unless `closed`) other keys with the additionalProperties
        value schema. What the grammar cannot tell apart is listed in `unenforced`."""
        pprops = schema.get("patternProperties") or {}
        if closed and not pprops:
            return []
        props = schema.get("properties") or {}
        declared = list(dict.fromkeys(list(props) + list(schema.get("required") or [])))
        addl = schema.get("additionalProperties", None)
        out: list[Node] = []
        open_pats = []
        for pat, sub in pprops.items():
            pptr = join(pointer, "patternProperties", pat)
            if sub is False:
                if not closed:
                    self.note_unenforced(pptr, "patternProperties", "keys matching this pattern are forbidden; the grammar's other keys may match it, the validator rejects them")
                continue
            keynode = self._pattern_key(pat, pptr)
            trivial = sub is True or sub == {}
            try:
                clash = [k for k in declared if search(pat, k)]
            except PatternUndecided:
                clash = declared
            if clash and keynode is not None:
                self.note_unenforced(pptr, "patternProperties", f"declared properties {', '.join(map(repr, clash))} also match this pattern: the grammar may repeat them, the validator checks the value against both schemas")
            if keynode is None:
                keynode = self._other_key(declared, pointer)
            if not trivial:
                open_pats.append(pat)
            valnode = self.any_value(pptr, self.limits.max_any_depth - 1) if trivial else self.value(sub, pptr, depth + 1)
            out.append(seq(keynode, COLON, valnode))
        if len(open_pats) > 1:
            self.note_unenforced(f"{pointer}/patternProperties", "patternProperties", "a key matching several patterns must satisfy each of their schemas: checked by the validator")
        if not closed:
            aptr = f"{pointer}/additionalProperties"
            if open_pats:
                self.note_unenforced(aptr, "additionalProperties", "an additional key that matches a patternProperties pattern must satisfy that pattern's schema instead: checked by the validator")
            if addl is True or addl is None or addl == {}:
                valnode = self.any_value(aptr, self.limits.max_any_depth - 1)
            else:
                valnode = self.value(addl, aptr, depth + 1)
            out.append(seq(self._other_key(declared, pointer), COLON, valnode))
        return out

    def _object(self, schema: dict, pointer: str, depth: int) -> Node:
        props = schema.get("properties") or {}
        required = schema.get("required") or []
        addl = schema.get("additionalProperties", None)
        pprops = schema.get("patternProperties") or {}
        if not props and not required:
            # `"properties": {}` with no additionalProperties declares "no arguments"; an object
            # schema without `properties` (or with additionalProperties) is a free-form map.
            silent_closed = addl is None and ("properties" in schema or bool(pprops))
            if addl is False or silent_closed:
                if silent_closed:
                    self._note_closed(pointer)
                entries = self._extra_entries(schema, pointer, depth, closed=True)
                if not entries:
                    return Lit("{}")
            else:
                entries = self._extra_entries(schema, pointer, depth, closed=False)
            lo = int(schema.get("minProperties", 0) or 0)
            hi = schema.get("maxProperties")
            if hi is None:
                hi = max(lo, self.limits.max_object_properties)
                self.note_cap(pointer, "maxProperties", f"free-form object limited to {hi} entries")
            pair = alt(*entries)
            if hi == 0:
                return Lit("{}")
            if lo == 0:
                return seq(Lit("{"), opt(seq(pair, Rep(seq(COMMA, pair), 0, int(hi) - 1))), Lit("}"))
            return seq(Lit("{"), pair, Rep(seq(COMMA, pair), lo - 1, int(hi) - 1), Lit("}"))
        for kw in ("minProperties", "maxProperties"):
            if kw in schema:
                self.note_unenforced(f"{pointer}/{kw}", kw, "checked by the validator when properties are declared")
        closed = addl is False or addl is None
        if addl is None:
            self._note_closed(pointer)
        entries = self._extra_entries(schema, pointer, depth, closed=closed)
        if not entries:
            return seq(Lit("{"), self.properties_body(schema, pointer, depth), Lit("}"))
        body = self.properties_body(schema, pointer, depth, nonempty=True)
        hi = schema.get("maxProperties")
        if hi is None:
            hi = self.limits.max_object_properties
            self.note_cap(pointer, "maxProperties", f"at most {hi} properties beyond the declared ones")
        hi = int(hi)
        pair = alt(*entries)
        more = Rep(seq(COMMA, pair), 0, max(hi - 1, 0))
        if hi == 0:
            inner = body if body is not None else EMPTY
        elif required and body is not None:  # the body always emits something
            inner = seq(body, Rep(seq(COMMA, pair), 0, hi))
        else:
            first = alt(seq(body, Rep(seq(COMMA, pair), 0, hi)), seq(pair, more)) if body is not None else seq(pair, more)
            inner = opt(first)
        return seq(Lit("{"), inner, Lit("}"))

    def _note_closed(self, pointer: str) -> None:
        self.note_cap(f"{pointer}/additionalProperties", "additionalProperties",
                      "the schema does not say whether other keys are allowed: only the declared properties (and patternProperties keys) are generated")

