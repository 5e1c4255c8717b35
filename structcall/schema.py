"""JSON Schema -> grammar IR.

`SchemaCompiler.value(schema, pointer)` returns a grammar node that admits the JSON (or Python
literal) texts of the instances of `schema`, rendered with canonical separators (``", "`` and
``": "``, no other whitespace). What a grammar cannot express is never dropped silently: it is
recorded as a `SchemaNote` in `unenforced` (the validator checks it after decoding) or, in strict
mode, raised as `UnsupportedSchemaError`. Where the schema sets no bound on a string, number,
array or free-form value, a documented default cap from `Limits` keeps a weak model from running
away, and is recorded in `capped`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache

try:  # Python 3.11+
    import re._constants as _sre_c
    import re._parser as _sre_p
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]

from .errors import Problem, SchemaError, UnsupportedSchemaError
from .grammar import EMPTY, Alt, Chars, Grammar, Lit, Node, Ref, Rep, Seq, alt, opt, seq
from .patterns import PatternUndecided, search

__all__ = ["Limits", "SchemaNote", "SchemaCompiler", "render_literal", "FORMAT_REGEXES"]


@dataclass(frozen=True)
class Limits:
    """Default caps for values the schema leaves unbounded (each use is reported in
    `ToolGrammar.capped`). A schema's own bound always wins over these."""

    max_string_length: int = 128
    """Characters in a string without ``maxLength``."""
    max_number_digits: int = 15
    """Digits in the integer part (and, separately, the fraction) of a number; 15 is the
    precision of a double."""
    max_array_items: int = 32
    """Items in an array without ``maxItems``."""
    max_object_properties: int = 32
    """Entries in a free-form object (no ``properties``) without ``maxProperties``."""
    max_any_depth: int = 4
    """Nesting depth of a value whose schema says nothing about it (``{}`` / ``true``)."""

    def __post_init__(self):
        for name in ("max_string_length", "max_number_digits", "max_array_items", "max_object_properties", "max_any_depth"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {v!r}")


@dataclass(frozen=True)
class SchemaNote:
    """A place where the grammar differs from the schema: a keyword it does not enforce (checked
    by the validator after decoding) or a cap it adds."""

    pointer: str
    keyword: str
    detail: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.keyword}: {self.detail}"


# keywords that only annotate
_ANNOTATIONS = {
    "title", "description", "default", "examples", "example", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "$anchor", "$defs", "definitions",
    "strict", "discriminator", "x-order", "nullable", "$dynamicAnchor", "optional",
}
# assertion keywords handled by this compiler (fully or partly)
_HANDLED = {
    "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems",
    "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "allOf", "$ref", "minProperties",
    "maxProperties", "patternProperties",
}
# assertion keywords we know and never enforce in the grammar (validator only)
_VALIDATOR_ONLY = {
    "multipleOf", "uniqueItems", "contains", "minContains", "maxContains", "not", "if", "then", "else",
    "dependentRequired", "dependentSchemas", "dependencies", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef",
}

DIGIT = Chars.of([(ord("0"), ord("9"))])
DIGIT19 = Chars.of([(ord("1"), ord("9"))])
HEX = Chars.of([(ord("0"), ord("9")), (ord("a"), ord("f")), (ord("A"), ord("F"))])
_CONTROL = (0x00, 0x1F)
PLAIN_CHAR = Chars.of([_CONTROL, (ord('"'), ord('"')), (ord("\\"), ord("\\"))], negated=True)
_ANY_DECODED = Chars.of([], negated=True)


def _lit_chars(s: str) -> Chars:
    return Chars.of([(ord(c), ord(c)) for c in s])


PLAIN_SQ_CHAR = Chars.of([_CONTROL, (ord("'"), ord("'")), (ord("\\"), ord("\\"))], negated=True)


def _json_char_node(syntax: str, quote: str = '"') -> Node:
    """One character inside a string literal: JSON's escapes, or (syntax "python") Python's
    escapes in a ``"`` or ``'`` quoted string (``\\'`` and ``\\xhh`` too, no ``\\/``)."""
    if syntax == "json":
        return alt(PLAIN_CHAR, seq(Lit("\\"), _lit_chars('"\\/bfnrt')), seq(Lit("\\u"), Rep(HEX, 4, 4)))
    plain = PLAIN_CHAR if quote == '"' else PLAIN_SQ_CHAR
    return alt(plain, seq(Lit("\\"), _lit_chars("\"'\\bfnrt")), seq(Lit("\\u"), Rep(HEX, 4, 4)),
               seq(Lit("\\x"), Rep(HEX, 2, 2)))


def _python_single_quoted(value: str) -> str | None:
    """The single-quoted Python literal of `value` (as `repr` writes it), or None when repr
    would pick double quotes."""
    r = repr(value)
    return r if r.startswith("'") else None


def render_literal(value, syntax: str = "json") -> str:
    """Canonical text of a JSON value: json.dumps with ``", "``/``": "`` separators, or the
    equivalent Python literal (True/False/None) when syntax == "python"."""
    if syntax == "json":
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)
    if value is True:
        return "True"
    if value is False:
        return "False"
    if value is None:
        return "None"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {render_literal(v, syntax)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_literal(v, syntax) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


# ------------------------------------------------------------------------------- integer ranges
def _same_len(a: str, b: str) -> Node:
    """Digit strings of equal length, a <= b."""
    n = len(a)
    if n == 1:
        return Chars.of([(ord(a), ord(b))])
    if a[0] == b[0]:
        return seq(Lit(a[0]), _same_len(a[1:], b[1:]))
    parts: list[Node] = []
    lo_full, hi_full = int(a[0]), int(b[0])
    if a[1:] != "0" * (n - 1):
        parts.append(seq(Lit(a[0]), _same_len(a[1:], "9" * (n - 1))))
        lo_full += 1
    upper = None
    if b[1:] != "9" * (n - 1):
        upper = seq(Lit(b[0]), _same_len("0" * (n - 1), b[1:]))
        hi_full -= 1
    if lo_full <= hi_full:
        parts.append(seq(Chars.of([(ord(str(lo_full)), ord(str(hi_full)))]), Rep(DIGIT, n - 1, n - 1)))
    if upper is not None:
        parts.append(upper)
    return alt(*parts)


def _nonneg_range(a: int, b: int) -> Node:
    parts = []
    for length in range(len(str(a)), len(str(b)) + 1):
        lo = max(a, 10 ** (length - 1) if length > 1 else 0)
        hi = min(b, 10**length - 1)
        if lo <= hi:
            parts.append(_same_len(str(lo), str(hi)))
    return alt(*parts)


@lru_cache(maxsize=4096)
def int_range(lo: int, hi: int) -> Node:
    """Canonical decimal integers in [lo, hi] (no leading zeros, no "-0")."""
    parts = []
    if hi >= 0:
        parts.append(_nonneg_range(max(lo, 0), hi))
    if lo < 0:
        parts.append(seq(Lit("-"), _nonneg_range(max(1, -hi) if hi < 0 else 1, -lo)))
    return alt(*parts)


# ------------------------------------------------------------------------------------ formats
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
FORMAT_REGEXES = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE + "T" + _TIME,
    # conservative and bounded (about 130 characters at most): a weak model must not run away
    "email": r"[A-Za-z0-9._%+-]{1,32}@[A-Za-z0-9-]{1,24}(?:\.[A-Za-z0-9-]{1,24}){1,3}",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "uri": r"[A-Za-z][A-Za-z0-9+.\-]{0,15}:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,%(cap)d}",
    "ipv4": _OCTET + r"\." + _OCTET + r"\." + _OCTET + r"\." + _OCTET,
}


# ------------------------------------------------------------------------------------ patterns
class _PatternUnsupported(Exception):
    pass


_CATS = {
    "CATEGORY_DIGIT": ([(48, 57)], False),
    "CATEGORY_NOT_DIGIT": ([(48, 57)], True),
    "CATEGORY_SPACE": ([(9, 10), (12, 13), (32, 32)], False),  # RE2's \s (the validator's engine)
    "CATEGORY_NOT_SPACE": ([(9, 10), (12, 13), (32, 32)], True),
    "CATEGORY_WORD": ([(48, 57), (65, 90), (95, 95), (97, 122)], False),
    "CATEGORY_NOT_WORD": ([(48, 57), (65, 90), (95, 95), (97, 122)], True),
}


def _decoded_class_from_in(items) -> Chars:
    ranges, negate, neg_parts = [], False, []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            ranges.append((arg, arg))
        elif name == "RANGE":
            ranges.append(arg)
        elif name == "CATEGORY":
            rs, neg = _CATS.get(str(arg), (None, None))
            if rs is None:
                raise _PatternUnsupported(f"character category {arg}")
            if neg:
                neg_parts.append(Chars.of(rs, True))
            else:
                ranges.extend(rs)
        else:
            raise _PatternUnsupported(f"class item {name}")
    cls = Chars.of(ranges)
    for npart in neg_parts:  # union with a negated class = union of positive ranges
        cls = Chars.of(list(cls.ranges) + list(npart.positive()))
    if negate:
        cls = Chars.of(cls.ranges, not cls.negated) if not cls.negated else Chars.of(cls.positive(), True)
    return cls


# \b \t \n \f \r, and \u00XX (lowercase hex) for the other control characters: what json.dumps writes
_ALL_CONTROL_ESCAPES = alt(
    seq(Lit("\\"), _lit_chars("btnfr")),
    seq(Lit("\\u00"), alt(seq(Lit("0"), Chars.of([(ord("0"), ord("7")), (ord("b"), ord("b")), (ord("e"), ord("f"))])),
                           seq(Lit("1"), Chars.of([(ord("0"), ord("9")), (ord("a"), ord("f"))])))),
)


def encode_class(cls: Chars, syntax: str) -> Node:
    """A class of decoded characters -> the JSON/Python string-literal encodings of them."""
    pos = cls.positive()
    plain = []
    for a, b in pos:
        # cut out control chars, '"' and '\\', which must be escaped inside a string literal
        cuts = [(0, 0x1F), (34, 34), (92, 92)]
        segs = [(a, b)]
        for ca, cb in cuts:
            nxt = []
            for sa, sb in segs:
                if sb < ca or sa > cb:
                    nxt.append((sa, sb))
                    continue
                if sa < ca:
                    nxt.append((sa, ca - 1))
                if sb > cb:
                    nxt.append((cb + 1, sb))
            segs = nxt
        plain.extend(segs)
    options: list[Node] = []
    if plain:
        options.append(Chars.of(plain))
    controls = [chr(c) for c in range(0x20)]
    if all(cls.contains(ch) for ch in controls):  # the escapes json.dumps writes, compactly
        options.append(_ALL_CONTROL_ESCAPES)
        controls = []
    for ch in ['"', "\\"] + controls:
        if cls.contains(ch):
            options.append(Lit(json.dumps(ch)[1:-1]))  # the escape json.dumps writes for it
    if not options:
        raise _PatternUnsupported("empty character class")
    return alt(*options)


def _encode_literal_char(c: str) -> str:
    return json.dumps(c, ensure_ascii=False)[1:-1]


class _PatternCompiler:
    def __init__(self, syntax: str, cap: int):
        self.syntax = syntax
        self.cap = cap
        self.capped = False

    def seq_(self, items) -> Node:
        return seq(*[self.item(op, arg) for op, arg in items])

    def item(self, op, arg) -> Node:
        name = str(op)
        if name == "LITERAL":
            return Lit(_encode_literal_char(chr(arg)))
        if name == "NOT_LITERAL":
            return encode_class(Chars.of([(arg, arg)], True), self.syntax)
        if name == "ANY":
            return encode_class(Chars.of([(10, 10)], True), self.syntax)
        if name == "IN":
            return encode_class(_decoded_class_from_in(arg), self.syntax)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            lo, hi, sub = arg
            if hi == _sre_c.MAXREPEAT:
                hi = max(lo, self.cap)
                self.capped = True
            return Rep(self.seq_(sub), lo, hi)
        if name == "SUBPATTERN":
            if arg[1] or arg[2]:
                raise _PatternUnsupported("inline flags")
            return self.seq_(arg[-1])
        if name == "BRANCH":
            return alt(*[self.seq_(b) for b in arg[1]])
        raise _PatternUnsupported(name.lower())

    def compile(self, pattern: str) -> Node:
        parsed = _simplify(list(_sre_p.parse(pattern)))
        why = _ambiguous_repeat(parsed)
        if why:
            raise _PatternUnsupported(f"{why} (a backtracking matcher such as lark's, used by accepts(), could need exponential time on it)")
        start_anchored = bool(parsed) and str(parsed[0][0]) == "AT" and str(parsed[0][1]) in ("AT_BEGINNING", "AT_BEGINNING_STRING")
        end_anchored = bool(parsed) and str(parsed[-1][0]) == "AT" and str(parsed[-1][1]) in ("AT_END", "AT_END_STRING")
        if start_anchored:
            parsed = parsed[1:]
        if end_anchored:
            parsed = parsed[:-1]
        if any(str(op) == "AT" for op, _ in parsed):
            raise _PatternUnsupported("anchor inside the pattern")
        body = self.seq_(parsed)
        anychar = encode_class(_ANY_DECODED, self.syntax)
        if not start_anchored:
            body = seq(Rep(anychar, 0, self.cap), body)
            self.capped = True
        if not end_anchored:
            body = seq(body, Rep(anychar, 0, self.cap))
            self.capped = True
        return body


# Nested repeats: `(a+)+` is the same language as `a+`, and `(x{2,3}){1,4}` as `x{2,12}` (when
# the counts in between are all reachable). Merging them keeps the grammar exact and gives a
# backtracking matcher one repeat instead of exponentially many ways to split a run.
_CHAR_OPS = {"LITERAL", "NOT_LITERAL", "ANY", "IN"}
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _unwrap(items):
    """The single item inside (possibly nested) groups without flags, or None."""
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN" and not items[0][1][1] and not items[0][1][2]:
        items = list(items[0][1][-1])
    return items[0] if len(items) == 1 else None


def _counts_contiguous(lo, hi, lo2, hi2) -> bool:
    """Whether sums of k counts in [lo2, hi2], for k in [lo, hi], cover [lo*lo2, hi*hi2] with
    no gap: then (x{lo2,hi2}){lo,hi} is x{lo*lo2,hi*hi2}."""
    if lo == hi or hi2 == _sre_c.MAXREPEAT or lo2 <= 1:
        return True
    return hi2 > lo2 and lo * (hi2 - lo2) >= lo2 - 1


def _simplify(items):
    out = []
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            lo, hi, body = arg
            body = _simplify(list(body))
            inner = _unwrap(body)
            while inner is not None and str(inner[0]) in _REPEATS and str(inner[0]) == name:
                lo2, hi2, body2 = inner[1]
                ch = _unwrap(list(body2))
                if ch is None or str(ch[0]) not in _CHAR_OPS or not _counts_contiguous(lo, hi, lo2, hi2):
                    break
                inf = _sre_c.MAXREPEAT
                lo, hi = lo * lo2, (inf if inf in (hi, hi2) else min(hi * hi2, inf))
                body = [ch]
                inner = ch
            out.append((op, (lo, hi, body)))
        elif name == "SUBPATTERN":
            out.append((op, arg[:-1] + (_simplify(list(arg[-1])),)))
        elif name == "BRANCH":
            out.append((op, (arg[0], [_simplify(list(b)) for b in arg[1]])))
        else:
            out.append((op, arg))
    return out


def _char_set(op, arg) -> Chars:
    name = str(op)
    if name == "LITERAL":
        return Chars.of([(arg, arg)])
    if name == "NOT_LITERAL":
        return Chars.of([(arg, arg)], True)
    if name == "ANY":
        return Chars.of([(10, 10)], True)
    return _decoded_class_from_in(arg)


def _union(a: Chars | None, b: Chars | None) -> Chars | None:
    if a is None:
        return b
    if b is None:
        return a
    return Chars.of(list(a.positive()) + list(b.positive()))


def _overlap(a: Chars | None, b: Chars | None) -> bool:
    if a is None or b is None:
        return False
    return any(x1 <= y2 and x2 <= y1 for x1, y1 in a.positive() for x2, y2 in b.positive())


def _ends(items, last: bool):
    """(first-or-last character set, nullable) of a parsed sequence."""
    acc, seq_items = None, (reversed(items) if last else items)
    for op, arg in seq_items:
        s, nullable = _ends_item(op, arg, last)
        acc = _union(acc, s)
        if not nullable:
            return acc, False
    return acc, True


def _ends_item(op, arg, last: bool):
    name = str(op)
    if name in _CHAR_OPS:
        return _char_set(op, arg), False
    if name in _REPEATS:
        s, n = _ends(list(arg[2]), last)
        return s, n or arg[0] == 0
    if name == "SUBPATTERN":
        return _ends(list(arg[-1]), last)
    if name == "ATOMIC_GROUP":
        return _ends(list(arg), last)
    if name == "BRANCH":
        acc, nullable = None, False
        for b in arg[1]:
            s, n = _ends(list(b), last)
            acc, nullable = _union(acc, s), nullable or n
        return acc, nullable
    return None, True  # anchors and assertions: zero width


def _ambiguous_repeat(items, in_repeat: bool = False) -> str | None:
    """Why a repeat in the parsed pattern could split a text in exponentially many ways (its body
    may be empty, or varies in length and may end with a character it may start with, or holds an
    alternation whose branches may start alike), or None. A backtracking matcher can need
    exponential time for such a pattern on a text that fails, so it is left to the validator (RE2).
    Conservative: it may flag a pattern that is in fact safe."""
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            lo, hi, body = arg
            body = list(body)
            why = _ambiguous_repeat(body, in_repeat or hi > 1)
            if why:
                return why
            if hi > 1 and not all(str(o) in _CHAR_OPS for o, _ in body):
                first, nullable = _ends(body, False)
                lastset, _ = _ends(body, True)
                if nullable:
                    return "a repeat of something that may be empty"
                if not _fixed_width(body) and _overlap(first, lastset):
                    return "a repeat of a variable-length part that may start with a character it may end with"
        elif name == "SUBPATTERN":
            why = _ambiguous_repeat(list(arg[-1]), in_repeat)
            if why:
                return why
        elif name == "BRANCH":
            if in_repeat:
                firsts = [_ends(list(b), False) for b in arg[1]]
                for i in range(len(firsts)):
                    for j in range(i + 1, len(firsts)):
                        if firsts[i][1] or firsts[j][1] or _overlap(firsts[i][0], firsts[j][0]):
                            return "an alternation whose branches may start alike, inside a repeat"
            for br in arg[1]:
                why = _ambiguous_repeat(list(br), in_repeat)
                if why:
                    return why
    return None


def _fixed_width(items) -> bool:
    try:
        lo, hi = _sre_p.SubPattern(_sre_p.State(), list(items)).getwidth()
    except Exception:  # noqa: BLE001 - any doubt counts as variable width
        return False
    return lo == hi


# ------------------------------------------------------------------------------------ compiler
def _canon(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _esc_pointer(s: str) -> str:
    return s.replace("~", "~0").replace("/", "~1")


class SchemaCompiler:
    """Compiles JSON Schemas into nodes of one `Grammar`.

    Args:
        grammar: the grammar that receives the named rules (objects, arrays, $refs).
        syntax: "json" (JSON values) or "python" (Python literals: True/False/None).
        limits: caps for unbounded values.
        strict: raise `UnsupportedSchemaError` instead of recording unenforced keywords.
    """

    def __init__(self, grammar: Grammar, *, syntax: str = "json", limits: Limits | None = None, strict: bool = False):
        if syntax not in ("json", "python"):
            raise ValueError(f"syntax must be 'json' or 'python', got {syntax!r}")
        self.g = grammar
        self.syntax = syntax
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
        self._char = _json_char_node(syntax)
        self._sq_char = _json_char_node(syntax, "'") if syntax == "python" else None

    # -- bookkeeping
    def _rule(self, hint) -> str:
        self._n += 1
        base = re.sub(r"[^a-z0-9_]", "_", str(hint).lower())[:24].strip("_")
        if not base or not base[0].isalpha():
            base = "r_" + base
        return f"{base}_{self.syntax[0]}{self._n}"

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
            schema, ok = _merge_all_of(schema)
            if not ok:
                self.note_unenforced(f"{pointer}/allOf", "allOf", "only the mergeable branches are in the grammar; the rest is checked by the validator")
        for kw in schema:
            if kw in _VALIDATOR_ONLY or kw in ("anyOf", "oneOf", "minProperties", "maxProperties"):
                self.note_unenforced(f"{pointer}/{_esc_pointer(kw)}", kw, "not expressible in keyword arguments; checked by the validator after decoding")
        props = schema.get("properties") or {}
        bad = list(dict.fromkeys(k for k in list(props) + list(schema.get("required") or []) if not is_identifier(k)))
        if bad:
            raise SchemaError([Problem(f"{pointer}/properties/{_esc_pointer(k)}", f"argument name {k!r} is not a Python identifier (or is a keyword), so it cannot be a keyword argument in the pythonic format") for k in bad])
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
        canon = _canon(schema)
        key = (self._root_pointer + "|" + canon) if "$ref" in canon else canon
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
        if isinstance(node, (Ref,)) or not _is_structured(schema):
            return node
        name = self._rule(schema.get("title") or pointer.rsplit("/", 1)[-1] or "value")
        ref = self.g.add(name, node)
        notes_u = [n for n in self.unenforced[u0:] if n.pointer.startswith(pointer)]
        notes_c = [n for n in self.capped[c0:] if n.pointer.startswith(pointer)]
        self._memo[key] = (ref, pointer, notes_u, notes_c)
        return ref

    def _value(self, schema: dict, pointer: str, depth: int) -> Node:
        for kw in schema:
            if kw in _VALIDATOR_ONLY:
                self.note_unenforced(f"{pointer}/{_esc_pointer(kw)}", kw, "not expressible in the grammar; checked by the validator after decoding")
        if "$ref" in schema:
            return self._ref(schema, pointer, depth)
        if "allOf" in schema:
            merged, ok = _merge_all_of(schema)
            if not ok:
                self.note_unenforced(f"{pointer}/allOf", "allOf", "only the first mergeable branches are in the grammar; the rest is checked by the validator")
            return self.value(merged, pointer, depth + 1)
        if "anyOf" in schema or "oneOf" in schema:
            kw = "anyOf" if "anyOf" in schema else "oneOf"
            branches = schema[kw]
            base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            if "anyOf" in schema and "oneOf" in schema:
                self.note_unenforced(f"{pointer}/oneOf", "oneOf", "only anyOf is in the grammar when both are given")
            if kw == "oneOf" and not _disjoint_types(branches):
                self.note_unenforced(f"{pointer}/oneOf", "oneOf", "exactly-one is checked by the validator; the grammar admits any branch")
            nodes = []
            for i, br in enumerate(branches):
                if br is False:
                    continue
                sub = _merge_pair(base, br) if base and isinstance(br, dict) else br
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
            types = _infer_types(schema)
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
        siblings = {k: v for k, v in schema.items() if k != "$ref" and k not in _ANNOTATIONS}
        if siblings:
            merged = _merge_pair(target, siblings)
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
        doc = self._root
        parts = [p for p in ref[1:].split("/") if p != ""] if ref != "#" else []
        for p in parts:
            p = p.replace("~1", "/").replace("~0", "~")
            if isinstance(doc, dict) and p in doc:
                doc = doc[p]
            elif isinstance(doc, list) and p.isdigit() and int(p) < len(doc):
                doc = doc[int(p)]
            else:
                raise SchemaError([Problem(pointer, f"$ref {ref!r} points nowhere")])
        return doc, self._root_pointer + ref[1:]

    # -- scalars
    def _enum(self, schema: dict, pointer: str) -> Node:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        if not isinstance(values, list) or not values and "enum" in schema:
            raise SchemaError([Problem(f"{pointer}/enum", "enum must be a non-empty array")])
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const") and k not in _ANNOTATIONS}
        if rest:
            from jsonschema import Draft202012Validator

            v = Draft202012Validator(rest)
            values = [x for x in values if v.is_valid(x)]
            if not values:
                raise SchemaError([Problem(pointer, "no value of enum/const satisfies the rest of the schema")])
        out = []
        for x in values:
            try:
                out.append(Lit(render_literal(x, self.syntax)))
            except ValueError as e:
                raise SchemaError([Problem(pointer, f"enum value {x!r} is not JSON: {e}")]) from None
            if self.syntax == "python" and isinstance(x, str) and _python_single_quoted(x):
                out.append(Lit(_python_single_quoted(x)))  # Python's own quoting, 'celsius'
        return alt(*out)

    def _typed(self, t: str, schema: dict, pointer: str, depth: int) -> Node:
        if t == "null":
            return Lit("null" if self.syntax == "json" else "None")
        if t == "boolean":
            return alt(Lit("true"), Lit("false")) if self.syntax == "json" else alt(Lit("True"), Lit("False"))
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

    def _bounds(self, schema: dict):
        lo = schema.get("minimum")
        hi = schema.get("maximum")
        xlo = schema.get("exclusiveMinimum")
        xhi = schema.get("exclusiveMaximum")
        if isinstance(xlo, bool):  # draft 4 boolean form
            xlo, lo = (lo if xlo else None), (None if xlo else lo)
        if isinstance(xhi, bool):
            xhi, hi = (hi if xhi else None), (None if xhi else hi)
        return lo, hi, xlo, xhi

    def _integer(self, schema: dict, pointer: str) -> Node:
        lo, hi, xlo, xhi = self._bounds(schema)
        cap = 10 ** self.limits.max_number_digits - 1
        a = b = None
        if lo is not None:
            a = math.ceil(lo)
        if xlo is not None:
            a = max(a, math.floor(xlo) + 1) if a is not None else math.floor(xlo) + 1
        if hi is not None:
            b = math.floor(hi)
        if xhi is not None:
            b = min(b, math.ceil(xhi) - 1) if b is not None else math.ceil(xhi) - 1
        bounded_lo, bounded_hi = a is not None, b is not None
        # a missing bound becomes a cap of max_number_digits digits around the other one
        if a is None:
            a = min(-cap, b - cap) if b is not None else -cap
        if b is None:
            b = max(cap, a + cap)
        if a > b:
            raise SchemaError([Problem(pointer, "integer bounds admit no value")])
        if not (bounded_lo and bounded_hi):
            self.note_cap(pointer, "maximum" if not bounded_hi else "minimum", f"integer limited to {self.limits.max_number_digits} digits")
        if (a, b) == (-cap, cap):
            return seq(opt(Lit("-")), alt(Lit("0"), seq(DIGIT19, Rep(DIGIT, 0, self.limits.max_number_digits - 1))))
        return int_range(a, b)

    def _number(self, schema: dict, pointer: str) -> Node:
        d = self.limits.max_number_digits
        lo, hi, xlo, xhi = self._bounds(schema)
        self.note_cap(pointer, "number", f"at most {d} integer and {d} fraction digits, exponent at most 2 digits")
        int_part = alt(Lit("0"), seq(DIGIT19, Rep(DIGIT, 0, d - 1)))
        frac = opt(seq(Lit("."), Rep(DIGIT, 1, d)))
        exp = opt(seq(_lit_chars("eE"), opt(_lit_chars("+-")), Rep(DIGIT, 1, 2)))  # stays finite
        sign = opt(Lit("-"))
        nonneg = (lo is not None and lo >= 0) or (xlo is not None and xlo >= 0)
        if nonneg:
            sign = EMPTY
        if lo is not None and lo == 0 and hi is None and xlo is None and xhi is None:
            pass  # minimum 0 is exactly "no minus sign"
        elif any(v is not None for v in (lo, hi, xlo, xhi)):
            for kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                if schema.get(kw) is not None and not (kw == "minimum" and schema[kw] == 0):
                    self.note_unenforced(f"{pointer}/{kw}", kw, "bounds on non-integer numbers are checked by the validator" + (" (the grammar forbids the minus sign)" if nonneg else ""))
        return seq(sign, int_part, frac, exp)

    def _string(self, schema: dict, pointer: str) -> Node:
        cap = self.limits.max_string_length
        lo = int(schema.get("minLength", 0) or 0)
        hi = schema.get("maxLength")
        q = Lit('"')
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        if fmt is not None and pattern is None:
            rx = FORMAT_REGEXES.get(fmt)
            if rx is None:
                self.note_unenforced(f"{pointer}/format", "format", f"format {fmt!r} is not in the grammar; checked by the validator where it knows the format")
            else:
                if "%(cap)d" in rx:
                    rx = rx.replace("%(cap)d", str(cap))
                    self.note_cap(pointer, "format", f"{fmt} limited to about {cap} characters")
                if lo or hi is not None:
                    self.note_unenforced(pointer, "maxLength" if hi is not None else "minLength", f"length together with format {fmt!r} is checked by the validator")
                if fmt in ("date", "date-time"):
                    self.note_unenforced(f"{pointer}/format", "format", "the grammar enforces the shape; calendar validity (e.g. no Feb 30) is checked by the validator")
                return seq(q, _PatternCompiler(self.syntax, cap).compile("^" + rx + "$"), q)
        if fmt is not None and pattern is not None:
            self.note_unenforced(f"{pointer}/format", "format", "format together with pattern is checked by the validator")
        if pattern is not None:
            try:
                pc = _PatternCompiler(self.syntax, hi if hi is not None else cap)
                body = pc.compile(pattern)
            except re.error as e:
                raise SchemaError([Problem(f"{pointer}/pattern", f"invalid regular expression: {e}")]) from None
            except (_PatternUnsupported, RecursionError, OverflowError) as e:
                self.note_unenforced(f"{pointer}/pattern", "pattern", f"{e} is not expressible in the grammar; checked by the validator")
                body = None
            if body is not None:
                if pc.capped:
                    self.note_cap(f"{pointer}/pattern", "pattern", f"unbounded repetition limited to {hi if hi is not None else cap}")
                if lo or hi is not None:
                    self.note_unenforced(pointer, "maxLength" if hi is not None else "minLength", "length together with pattern is checked by the validator")
                return seq(q, body, q)
        if hi is None:
            hi = max(cap, lo)
            self.note_cap(pointer, "maxLength", f"string limited to {hi} characters")
        if lo > hi:
            raise SchemaError([Problem(pointer, f"minLength {lo} > maxLength {hi}")])
        if self._sq_char is not None:  # Python literals: either quote style
            return alt(seq(q, Rep(self._char, lo, int(hi)), q), seq(Lit("'"), Rep(self._sq_char, lo, int(hi)), Lit("'")))
        return seq(q, Rep(self._char, lo, int(hi)), q)

    # -- containers
    def _items_seq(self, item: Node, lo: int, hi: int) -> Node:
        sep = Lit(", ")
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
                return seq(Rep(seq(Lit(", "), rest), 0, more), Lit("]")) if rest is not None and more > 0 else Lit("]")
            nxt = pnodes[k] if k < m else rest
            cont = seq(Lit(", "), nxt, after(k + 1))
            return cont if k < lo else alt(Lit("]"), cont)

        if hi == 0:
            return Lit("[]")
        first = seq(pnodes[0], after(1))
        return seq(Lit("["), first if lo > 0 else alt(Lit("]"), first))

    def key_literal(self, key: str) -> str:
        return json.dumps(key, ensure_ascii=False) + ": "

    def properties_body(self, schema: dict, pointer: str, depth: int, *, key=None, sep: str = ", ", nonempty: bool = False) -> Node | None:
        """The inside of an object with declared properties, in schema order; required ones
        must appear. `key(name) -> str` renders a property key (JSON ``"k": `` by default,
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
                    raise SchemaError([Problem(f"{pointer}/properties/{_esc_pointer(name)}", "a required property has schema false")])
                continue
            entries.append((name, sub, name in required, f"{pointer}/properties/{_esc_pointer(name)}"))
        addl = schema.get("additionalProperties")
        for name in required:
            if name not in props:
                if addl is False:
                    raise SchemaError([Problem(f"{pointer}/required", f"required property {name!r} is not in properties and additionalProperties is false: no value satisfies the schema")])
                entries.append((name, addl if isinstance(addl, dict) else True, True, f"{pointer}/additionalProperties"))
                if schema.get("patternProperties"):
                    self.note_unenforced(f"{pointer}/required", "patternProperties", f"required property {name!r} is not declared: a patternProperties schema its name matches is checked by the validator")
        nodes = [(seq(Lit(key(name)), self.value(sub, ptr, depth + 1)), req) for name, sub, req, ptr in entries]
        n = len(nodes)
        if n == 0:
            return None if nonempty else EMPTY
        s = Lit(sep)
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
        anychar = encode_class(_ANY_DECODED, self.syntax)
        if any(ord(c) < 0x20 or c in '"\\' for k in declared for c in k):
            return self._other_key_exact(declared, cap, anychar)
        trie: dict = {}
        for k in declared:
            t = trie
            for c in k:
                t = t.setdefault(c, {})
            t[None] = True
        # characters that are written as themselves in a JSON string, less the trie's next ones
        cuts = [(0, 0x1F), (34, 34), (92, 92)]

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

        esc = alt(Lit('\\"'), Lit("\\\\"), _ALL_CONTROL_ESCAPES)
        body = seq(alt(g(trie), seq(paths(trie), esc)), Rep(anychar, 0, cap - 1))
        fin = f(trie)
        return seq(Lit('"'), alt(fin, body) if fin is not None else body, Lit('"'))

    def _other_key_exact(self, declared, cap: int, anychar: Node) -> Node:
        """`_other_key` for declared keys that hold quotes, backslashes or control characters
        (each trie node lists the encodings that leave it)."""
        trie: dict = {}
        for k in declared:
            t = trie
            for c in k:
                t = t.setdefault(c, {})
            t[None] = True

        def rest(t: dict, d: int) -> Node:
            parts: list[Node] = [] if t.get(None) else [EMPTY]
            kids = [c for c in t if c is not None]
            if d < cap:
                other = Chars.of([(ord(c), ord(c)) for c in kids], negated=True)
                parts.append(seq(encode_class(other, self.syntax), Rep(anychar, 0, cap - d - 1)))
                for c in kids:
                    parts.append(seq(Lit(_encode_literal_char(c)), rest(t[c], d + 1)))
            return alt(*parts) if parts else EMPTY

        return seq(Lit('"'), rest(trie, 0), Lit('"'))

    def _pattern_key(self, pattern: str, pointer: str) -> Node | None:
        """A JSON string key matching `pattern`, or None when the grammar cannot express it."""
        cap = self.limits.max_string_length
        try:
            pc = _PatternCompiler(self.syntax, cap)
            body = pc.compile(pattern)
        except re.error as e:
            raise SchemaError([Problem(pointer, f"invalid regular expression: {e}")]) from None
        except (_PatternUnsupported, RecursionError, OverflowError) as e:
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
            pptr = f"{pointer}/patternProperties/{_esc_pointer(pat)}"
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
            out.append(seq(keynode, Lit(": "), valnode))
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
            out.append(seq(self._other_key(declared, pointer), Lit(": "), valnode))
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
                return seq(Lit("{"), opt(seq(pair, Rep(seq(Lit(", "), pair), 0, int(hi) - 1))), Lit("}"))
            return seq(Lit("{"), pair, Rep(seq(Lit(", "), pair), lo - 1, int(hi) - 1), Lit("}"))
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
        more = Rep(seq(Lit(", "), pair), 0, max(hi - 1, 0))
        if hi == 0:
            inner = body if body is not None else EMPTY
        elif required and body is not None:  # the body always emits something
            inner = seq(body, Rep(seq(Lit(", "), pair), 0, hi))
        else:
            first = alt(seq(body, Rep(seq(Lit(", "), pair), 0, hi)), seq(pair, more)) if body is not None else seq(pair, more)
            inner = opt(first)
        return seq(Lit("{"), inner, Lit("}"))

    def _note_closed(self, pointer: str) -> None:
        self.note_cap(f"{pointer}/additionalProperties", "additionalProperties",
                      "the schema does not say whether other keys are allowed: only the declared properties (and patternProperties keys) are generated")

    def any_value(self, pointer: str, depth: int) -> Node:
        """Any JSON value, nested at most `depth` levels (a cap, recorded)."""
        self.note_cap(pointer, "any", f"free-form value nested at most {self.limits.max_any_depth} levels; strings, numbers and containers capped as in Limits")
        name = f"any{max(depth, 0)}_{self.syntax[0]}"
        if name in self.g.rules:
            return Ref(name)
        d = self.limits.max_number_digits
        scalar = alt(
            seq(Lit('"'), Rep(self._char, 0, self.limits.max_string_length), Lit('"')),
            seq(opt(Lit("-")), alt(Lit("0"), seq(DIGIT19, Rep(DIGIT, 0, d - 1))), opt(seq(Lit("."), Rep(DIGIT, 1, d)))),
            *( [Lit("true"), Lit("false"), Lit("null")] if self.syntax == "json" else [Lit("True"), Lit("False"), Lit("None")] ),
        )
        if depth <= 0:
            self.g.rules[name] = scalar
            return Ref(name)
        self.g.rules[name] = EMPTY
        inner = self.any_value(pointer, depth - 1)
        key = seq(Lit('"'), Rep(self._char, 0, self.limits.max_string_length), Lit('"'))
        pair = seq(key, Lit(": "), inner)
        n_arr, n_obj = self.limits.max_array_items, self.limits.max_object_properties
        arr = seq(Lit("["), opt(seq(inner, Rep(seq(Lit(", "), inner), 0, n_arr - 1))), Lit("]"))
        obj = seq(Lit("{"), opt(seq(pair, Rep(seq(Lit(", "), pair), 0, n_obj - 1))), Lit("}"))
        self.g.rules[name] = alt(scalar, arr, obj)
        return Ref(name)


def is_identifier(name) -> bool:
    """A valid Python keyword-argument / function name (identifiers that are not keywords)."""
    import keyword

    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _is_structured(schema: dict) -> bool:
    t = schema.get("type")
    ts = [t] if isinstance(t, str) else (t or [])
    return bool({"object", "array"} & set(ts)) or any(k in schema for k in ("properties", "items", "prefixItems", "anyOf", "oneOf", "allOf"))


def _infer_types(schema: dict):
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


def _disjoint_types(branches) -> bool:
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
                k = _canon(v)
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


def _merge_pair(a: dict, b: dict):
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
                    m = _merge_pair(props[pk], pv) if isinstance(props[pk], dict) and isinstance(pv, dict) else None
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
        elif k in _ANNOTATIONS:
            continue
        elif out[k] != v:
            return None
    return out


def _merge_all_of(schema: dict):
    base = {k: v for k, v in schema.items() if k != "allOf"}
    ok = True
    for br in schema["allOf"]:
        if isinstance(br, dict) and "$ref" in br:
            ok = False  # references inside allOf: keep the first, validator checks the rest
            if "$ref" not in base:
                m = _merge_pair(base, br)
                if m is not None:
                    base = m
            continue
        m = _merge_pair(base, br) if isinstance(br, dict) else None
        if m is None:
            ok = False
        else:
            base = m
    return base, ok
