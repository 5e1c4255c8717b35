"""Regular expressions as grammar nodes: `pattern` keywords, patternProperties keys and the
regexes of the string formats (`FORMAT_REGEXES`).

Patterns are parsed with CPython's own regex parser (`re._parser`, `sre_parse` before 3.11) and
translated item by item into nodes over the JSON string-literal encodings of the characters. A
construct the grammar cannot express, or a repeat a backtracking matcher could take exponential
time on, raises `PatternUnsupported`; the compiler then leaves the pattern to the validator.
"""

from __future__ import annotations

import json

try:  # Python 3.11+
    import re._constants as _sre_c
    import re._parser as _sre_p
except ImportError:  # pragma: no cover
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]

from ..grammar import Chars, Lit, Node, Rep, alt, seq
from .syntax import ANY_DECODED, lit_chars

# ---------------------------------------------------------------------------------- formats
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
class PatternUnsupported(Exception):
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
                raise PatternUnsupported(f"character category {arg}")
            if neg:
                neg_parts.append(Chars.of(rs, True))
            else:
                ranges.extend(rs)
        else:
            raise PatternUnsupported(f"class item {name}")
    cls = Chars.of(ranges)
    for npart in neg_parts:  # union with a negated class = union of positive ranges
        cls = Chars.of(list(cls.ranges) + list(npart.positive()))
    if negate:
        cls = Chars.of(cls.ranges, not cls.negated) if not cls.negated else Chars.of(cls.positive(), True)
    return cls


# \b \t \n \f \r, and \u00XX (lowercase hex) for the other control characters: what json.dumps writes
CONTROL_ESCAPES = alt(
    seq(Lit("\\"), lit_chars("btnfr")),
    seq(Lit("\\u00"), alt(seq(Lit("0"), Chars.of([(ord("0"), ord("7")), (ord("b"), ord("b")), (ord("e"), ord("f"))])),
                           seq(Lit("1"), Chars.of([(ord("0"), ord("9")), (ord("a"), ord("f"))])))),
)


def encode_class(cls: Chars, quote: str = '"') -> Node:
    """A class of decoded characters -> the JSON/Python string-literal encodings of them
    (between `quote` marks: ``'`` for a single-quoted Python string)."""
    pos = cls.positive()
    plain = []
    for a, b in pos:
        # cut out control chars, the quote and '\\', which must be escaped inside a string literal
        cuts = [(0, 0x1F), (ord(quote), ord(quote)), (92, 92)]
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
        options.append(CONTROL_ESCAPES)
        controls = []
    for ch in [quote, "\\"] + controls:
        if cls.contains(ch):
            options.append(Lit(encode_literal_char(ch, quote)))  # the escape json.dumps (repr) writes for it
    if not options:
        raise PatternUnsupported("empty character class")
    return alt(*options)


def encode_literal_char(c: str, quote: str = '"') -> str:
    """The text json.dumps writes for character `c` inside a string literal (between ``'``
    marks: ``\\'`` for a quote, ``"`` as itself)."""
    if quote == "'" and c in "'\"":
        return "\\'" if c == "'" else c
    return json.dumps(c, ensure_ascii=False)[1:-1]


class PatternCompiler:
    """Translates one regex into a node over string-literal encodings. Strings take JSON's
    escapes in both syntaxes (a Python string literal reads them alike). Unbounded repeats and
    unanchored ends are capped at `cap` characters; `capped` says whether that happened."""

    def __init__(self, cap: int, quote: str = '"'):
        self.cap = cap
        self.quote = quote
        self.capped = False

    def seq_(self, items) -> Node:
        return seq(*[self.item(op, arg) for op, arg in items])

    def item(self, op, arg) -> Node:
        name = str(op)
        if name == "LITERAL":
            return Lit(encode_literal_char(chr(arg), self.quote))
        if name == "NOT_LITERAL":
            return encode_class(Chars.of([(arg, arg)], True), self.quote)
        if name == "ANY":
            return encode_class(Chars.of([(10, 10)], True), self.quote)
        if name == "IN":
            return encode_class(_decoded_class_from_in(arg), self.quote)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            lo, hi, sub = arg
            if hi == _sre_c.MAXREPEAT:
                hi = max(lo, self.cap)
                self.capped = True
            return Rep(self.seq_(sub), lo, hi)
        if name == "SUBPATTERN":
            if arg[1] or arg[2]:
                raise PatternUnsupported("inline flags")
            return self.seq_(arg[-1])
        if name == "BRANCH":
            return alt(*[self.seq_(b) for b in arg[1]])
        raise PatternUnsupported(name.lower())

    def compile(self, pattern: str) -> Node:
        parsed = _simplify(list(_sre_p.parse(pattern)))
        why = _ambiguous_repeat(parsed)
        if why:
            raise PatternUnsupported(f"{why} (a backtracking matcher such as lark's, used by accepts(), could need exponential time on it)")
        start_anchored = bool(parsed) and str(parsed[0][0]) == "AT" and str(parsed[0][1]) in ("AT_BEGINNING", "AT_BEGINNING_STRING")
        end_anchored = bool(parsed) and str(parsed[-1][0]) == "AT" and str(parsed[-1][1]) in ("AT_END", "AT_END_STRING")
        if start_anchored:
            parsed = parsed[1:]
        if end_anchored:
            parsed = parsed[:-1]
        if any(str(op) == "AT" for op, _ in parsed):
            raise PatternUnsupported("anchor inside the pattern")
        body = self.seq_(parsed)
        anychar = encode_class(ANY_DECODED, self.quote)
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

