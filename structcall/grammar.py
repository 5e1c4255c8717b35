"""A small grammar IR and its emitters: the one source of truth for every backend dialect.

The compiler (`structcall.schema`, `structcall.compile`) builds a `Grammar` out of these nodes:

    Lit(text)                 a literal string
    Chars(ranges, negated)    one character from a class (code-point ranges)
    Seq(items) / Alt(items)   sequence / alternatives
    Rep(item, min, max)       bounded repetition (max=None only for free text)
    Ref(name)                 a named rule (may be recursive)
    FreeText(avoid)           any text that does not contain `avoid` (None: any text at all)

and the emitters render it as

    to_lark(g)        Lark for the `lark` package (Python `re` terminals), used by `accepts()`
    to_llguidance(g)  llguidance's Lark dialect (Rust `regex` terminals, lazy lexemes)
    to_gbnf(g)        xgrammar's EBNF (GBNF-like), character level
    to_regex(g)       one regular expression (outlines-core), when the grammar is not recursive

Ref-free subtrees (strings, numbers, literals) become single regex terminals in the Lark dialects,
which keeps both the `lark` Earley parser and llguidance's lexer fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import UnsupportedSchemaError

__all__ = [
    "Node",
    "Lit",
    "Chars",
    "Seq",
    "Alt",
    "Rep",
    "Ref",
    "FreeText",
    "Grammar",
    "seq",
    "alt",
    "opt",
    "to_lark",
    "to_llguidance",
    "to_gbnf",
    "to_regex",
]

MAX_UNICODE = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)


# --------------------------------------------------------------------------------------- nodes
class Node:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Lit(Node):
    text: str


@dataclass(frozen=True, slots=True)
class Chars(Node):
    """One character whose code point lies in `ranges` (inclusive pairs), or outside them when
    `negated`. Ranges are normalised (sorted, merged) by `Chars.of`."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    @staticmethod
    def of(ranges, negated: bool = False) -> "Chars":
        """Normalised class. Surrogate code points (U+D800-U+DFFF) are never in a class: they
        are not characters and have no UTF-8 encoding."""
        rs = []
        for a, b in ranges:
            a, b = int(a), int(b)
            if negated:
                rs.append((a, b))
                continue
            if a < SURROGATES[0]:
                rs.append((a, min(b, SURROGATES[0] - 1)))
            if b > SURROGATES[1]:
                rs.append((max(a, SURROGATES[1] + 1), b))
        if negated:
            rs.append(SURROGATES)
        rs.sort()
        merged: list[list[int]] = []
        for a, b in rs:
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return Chars(tuple((a, b) for a, b in merged), negated)

    def positive(self) -> tuple[tuple[int, int], ...]:
        """The class as positive ranges (complemented if negated)."""
        if not self.negated:
            return self.ranges
        out, lo = [], 0
        for a, b in self.ranges:
            if a > lo:
                out.append((lo, a - 1))
            lo = b + 1
        if lo <= MAX_UNICODE:
            out.append((lo, MAX_UNICODE))
        return tuple(out)

    def contains(self, ch: str) -> bool:
        c = ord(ch)
        inside = any(a <= c <= b for a, b in self.ranges)
        return inside != self.negated


@dataclass(frozen=True, slots=True)
class Seq(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Rep(Node):
    item: Node
    min: int
    max: int | None


@dataclass(frozen=True, slots=True)
class Ref(Node):
    name: str


@dataclass(frozen=True, slots=True)
class FreeText(Node):
    """Any text (possibly empty) that does not contain `avoid` as a substring."""

    avoid: str | None = None


EMPTY = Seq(())


def seq(*items: Node) -> Node:
    flat: list[Node] = []
    for it in items:
        if isinstance(it, Seq):
            flat.extend(it.items)
        else:
            flat.append(it)
    # merge adjacent literals: fewer terminals, longer forced runs
    merged: list[Node] = []
    for it in flat:
        if isinstance(it, Lit) and merged and isinstance(merged[-1], Lit):
            merged[-1] = Lit(merged[-1].text + it.text)
        elif isinstance(it, Lit) and it.text == "":
            continue
        else:
            merged.append(it)
    if len(merged) == 1:
        return merged[0]
    return Seq(tuple(merged))


def alt(*items: Node) -> Node:
    flat: dict[Node, None] = {}  # ordered set: dedup in O(n)
    optional = False
    for it in items:
        for sub in it.items if isinstance(it, Alt) else (it,):
            if sub == EMPTY or sub == Lit(""):
                optional = True  # an empty alternative: the rest becomes optional
            else:
                flat[sub] = None
    flat = list(flat)
    if not flat:
        return EMPTY
    node = flat[0] if len(flat) == 1 else Alt(tuple(flat))
    return Rep(node, 0, 1) if optional else node


def opt(item: Node) -> Node:
    return Rep(item, 0, 1)


@dataclass
class Grammar:
    """Named rules plus a start rule. Rule names are lowercase identifiers."""

    rules: dict[str, Node] = field(default_factory=dict)
    start: str = "start"

    def add(self, name: str, node: Node) -> Ref:
        self.rules[name] = node
        return Ref(name)

    def refs(self, node: Node) -> set[str]:
        out: set[str] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, Ref):
                out.add(n.name)
            elif isinstance(n, (Seq, Alt)):
                stack.extend(n.items)
            elif isinstance(n, Rep):
                stack.append(n.item)
        return out

    def reachable(self) -> list[str]:
        seen, order, stack = set(), [], [self.start]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            order.append(name)
            if name not in self.rules:
                raise KeyError(f"grammar rule {name!r} is referenced but not defined")
            stack.extend(sorted(self.refs(self.rules[name]), reverse=True))
        return order

    def is_recursive(self) -> bool:
        state: dict[str, int] = {}

        def visit(name: str) -> bool:
            st = state.get(name)
            if st == 1:
                return True
            if st == 2:
                return False
            state[name] = 1
            for r in self.refs(self.rules[name]):
                if visit(r):
                    return True
            state[name] = 2
            return False

        return visit(self.start)


# --------------------------------------------------------------------------- regex rendering
_REGEX_META = set("\\.^$|?*+()[]{}/#&~-\"")


def _re_char(c: str, in_class: bool = False) -> str:
    o = ord(c)
    if c == "\n":
        return "\\n"
    if c == "\t":
        return "\\t"
    if c == "\r":
        return "\\r"
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if SURROGATES[0] <= o <= SURROGATES[1]:
        return f"\\u{o:04x}"
    if c in _REGEX_META or (in_class and c in "]^"):
        return "\\" + c
    if c == " ":
        return " "
    return c


def _re_class(ch: Chars, dialect: str = "python") -> str:
    # Render from positive ranges when that is shorter; keep negation otherwise.
    if ch.negated:
        body, neg = ch.ranges, "^"
    else:
        body, neg = ch.ranges, ""
    if dialect == "rust":
        # Rust regexes match characters, which never include surrogates: leave them out
        body = tuple(r for r in body if not (r[0] >= SURROGATES[0] and r[1] <= SURROGATES[1]))
        body = tuple((a, SURROGATES[0] - 1) if a < SURROGATES[0] <= b <= SURROGATES[1] else
                     (SURROGATES[1] + 1, b) if SURROGATES[0] <= a <= SURROGATES[1] < b else (a, b) for a, b in body)
    parts = []
    for a, b in body:
        if a == b:
            parts.append(_re_char(chr(a), True))
        elif b == a + 1:
            parts.append(_re_char(chr(a), True) + _re_char(chr(b), True))
        else:
            parts.append(_re_char(chr(a), True) + "-" + _re_char(chr(b), True))
    if not parts:
        # empty class: matches nothing / anything
        return "(?s:.)" if neg else "[^\\s\\S]"
    return "[" + neg + "".join(parts) + "]"


def _max_len(node: Node, g: Grammar | None = None, depth: int = 0) -> float:
    """Upper bound of the match length (for ordering alternatives longest-first)."""
    if depth > 50:
        return float("inf")
    if isinstance(node, Lit):
        return len(node.text)
    if isinstance(node, Chars):
        return 1
    if isinstance(node, Seq):
        return sum(_max_len(i, g, depth + 1) for i in node.items)
    if isinstance(node, Alt):
        return max((_max_len(i, g, depth + 1) for i in node.items), default=0)
    if isinstance(node, Rep):
        if node.max is None:
            return float("inf")
        return node.max * _max_len(node.item, g, depth + 1)
    if isinstance(node, Ref) and g is not None:
        return _max_len(g.rules[node.name], g, depth + 1)
    return float("inf")


def _quant(lo: int, hi: int | None) -> str:
    if (lo, hi) == (0, 1):
        return "?"
    if (lo, hi) == (0, None):
        return "*"
    if (lo, hi) == (1, None):
        return "+"
    if hi is None:
        return "{%d,}" % lo
    if lo == hi:
        return "{%d}" % lo
    return "{%d,%d}" % (lo, hi)


def _no_substring_dfa(avoid: str):
    """KMP automaton for 'does not contain `avoid`': states 0..n-1 (matched prefix length).
    Returns transitions[state] = list of (chars, target) where chars is a set of specific
    characters, plus an `other` target for all remaining characters."""
    n = len(avoid)
    fail = [0] * (n + 1)
    k = 0
    for i in range(1, n):
        while k and avoid[i] != avoid[k]:
            k = fail[k]
        if avoid[i] == avoid[k]:
            k += 1
        fail[i + 1] = k
    alphabet = sorted(set(avoid))
    trans = []
    for s in range(n):
        moves: dict[int, set[str]] = {}
        for c in alphabet:
            t = s
            while t and avoid[t] != c:
                t = fail[t]
            if avoid[t] == c:
                t += 1
            moves.setdefault(t, set()).add(c)
        trans.append(moves)
    return alphabet, trans


def _free_text_regex(avoid: str | None) -> str:
    """Regex (no lookaround) for text not containing `avoid`, by state elimination on the KMP
    automaton. Every state is accepting."""
    if not avoid:
        return "(?s:.)*"
    n = len(avoid)
    alphabet, trans = _no_substring_dfa(avoid)
    other = "[^" + "".join(_re_char(c, True) for c in alphabet) + "]"
    # edges[i][j] = regex for one step i -> j (states 0..n-1; n = dead, dropped)
    edges: dict[tuple[int, int], list[str]] = {}
    for s in range(n):
        for t, cs in trans[s].items():
            if t >= n:
                continue
            edges.setdefault((s, t), []).append(
                _re_char(next(iter(cs))) if len(cs) == 1 else "[" + "".join(_re_char(c, True) for c in sorted(cs)) + "]"
            )
        edges.setdefault((s, 0), []).append(other)

    def e(i, j):
        v = edges.get((i, j))
        if not v:
            return None
        return v[0] if len(v) == 1 else "(?:" + "|".join(v) + ")"

    # add a fresh start S=-1 -> 0 (eps) and final F=-2 from every state (eps)
    E: dict[tuple[int, int], str] = {}
    for (i, j) in edges:
        E[(i, j)] = e(i, j)
    START, FINAL = -1, -2
    E[(START, 0)] = ""
    for s in range(n):
        E[(s, FINAL)] = ""
    states = list(range(n))
    for k in reversed(states):
        loop = E.pop((k, k), None)
        loop_re = f"(?:{loop})*" if loop else ""
        ins = [(i, r) for (i, j), r in list(E.items()) if j == k]
        outs = [(j, r) for (i, j), r in list(E.items()) if i == k]
        for (i, _) in ins:
            E.pop((i, k), None)
        for (j, _) in outs:
            E.pop((k, j), None)
        for i, r1 in ins:
            for j, r2 in outs:
                new = r1 + loop_re + r2
                old = E.get((i, j))
                E[(i, j)] = new if old is None else f"(?:{old}|{new})"
    return "(?:" + E.get((START, FINAL), "") + ")"


class _RegexRenderer:
    """Renders Ref-free (or inlinable) nodes as a regex string."""

    def __init__(self, g: Grammar | None, dialect: str, inline_refs: bool):
        self.g = g
        self.dialect = dialect  # "python" | "rust"
        self.inline_refs = inline_refs
        self._stack: list[str] = []

    def render(self, node: Node) -> str:
        if isinstance(node, Lit):
            return "".join(_re_char(c) for c in node.text)
        if isinstance(node, Chars):
            return _re_class(node, self.dialect)
        if isinstance(node, Seq):
            return "".join(self._atom(i, in_seq=True) for i in node.items)
        if isinstance(node, Alt):
            # Longest first, and alternatives that can end the match (nullable) last: Python's
            # `re` and outlines-core's leftmost-first DFAs both drop lower-priority branches
            # once a higher-priority one has matched.
            items = sorted(node.items, key=lambda n: (nullable(n, self.g), -_max_len(n, self.g)))
            return "(?:" + "|".join(self.render(i) for i in items) + ")"
        if isinstance(node, Rep):
            return self._atom(node.item) + _quant(node.min, node.max)
        if isinstance(node, FreeText):
            if self.dialect == "python" and node.avoid:
                return "(?:(?!" + "".join(_re_char(c) for c in node.avoid) + ")(?s:.))*"
            return _free_text_regex(node.avoid)
        if isinstance(node, Ref):
            if not self.inline_refs or self.g is None:
                raise UnsupportedSchemaError("$ref", "", "internal: reference inside a regex terminal")
            if node.name in self._stack:
                raise UnsupportedSchemaError(
                    "$ref",
                    "",
                    f"rule {node.name!r} is recursive, so the grammar is not regular and has no regex "
                    "form; use the llguidance or xgrammar backend for recursive schemas",
                )
            self._stack.append(node.name)
            try:
                return "(?:" + self.render(self.g.rules[node.name]) + ")"
            finally:
                self._stack.pop()
        raise TypeError(node)

    def _atom(self, node: Node, in_seq: bool = False) -> str:
        s = self.render(node)
        if isinstance(node, (Chars, Alt, Ref)) or (isinstance(node, Lit) and len(node.text) == 1):
            if isinstance(node, Lit) and s.startswith("\\") and len(s) > 2 and not s.startswith("\\x"):
                return "(?:" + s + ")"
            return s
        if isinstance(node, Seq) and in_seq:
            return s
        return "(?:" + s + ")"


def _ref_free(node: Node) -> bool:
    if isinstance(node, (Lit, Chars)):
        return True
    if isinstance(node, (Seq, Alt)):
        return all(_ref_free(i) for i in node.items)
    if isinstance(node, Rep):
        return node.max is not None and _ref_free(node.item)
    return False


def nullable(node: Node, g: Grammar | None = None, _seen=None) -> bool:
    """Whether `node` matches the empty string."""
    if isinstance(node, Lit):
        return node.text == ""
    if isinstance(node, Chars):
        return False
    if isinstance(node, Seq):
        return all(nullable(i, g, _seen) for i in node.items)
    if isinstance(node, Alt):
        return any(nullable(i, g, _seen) for i in node.items)
    if isinstance(node, Rep):
        return node.min == 0 or nullable(node.item, g, _seen)
    if isinstance(node, FreeText):
        return True
    if isinstance(node, Ref):
        if g is None:
            return False
        _seen = _seen or set()
        if node.name in _seen:
            return False
        _seen.add(node.name)
        return nullable(g.rules[node.name], g, _seen)
    raise TypeError(node)


def _lark_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# ------------------------------------------------------------------------------- Lark dialects
class _LarkEmitter:
    """Lark text for the `lark` package (dialect "lark") or llguidance (dialect "llguidance").

    Terminals may not match the empty string (Lark forbids it), so optional parts are written
    as optional non-empty terminals."""

    def __init__(self, g: Grammar, dialect: str):
        self.g = g
        self.dialect = dialect  # "lark" | "llguidance"
        self.re = _RegexRenderer(g, "python" if dialect == "lark" else "rust", inline_refs=False)
        self.extra: list[str] = []
        self._helpers: dict[str, str] = {}
        self._n = 0

    def _helper(self, body: str) -> str:
        """Lark dialect: every group becomes its own rule. Inline groups would make Lark expand
        each rule into the product of its optional parts (exponential in the rule's length)."""
        if self.dialect != "lark":
            return "(" + body + ")"
        name = self._helpers.get(body)
        if name is None:
            name = f"_h{len(self._helpers) + 1}"
            self._helpers[body] = name
            self.extra.append(f"{name}: {body}")
        return name

    def _opt(self, s: str) -> str:
        return self._helper(f"[{s}]") if self.dialect == "lark" else f"({s})?"

    def term(self, node: Node) -> str:
        if isinstance(node, Lit):
            return _lark_string(node.text)
        return "/" + self.re.render(node) + "/"

    def expr(self, node: Node) -> str:
        if node == EMPTY:
            return ""
        if _ref_free(node) and not (isinstance(node, Alt) and self.dialect == "lark"):
            if not nullable(node):
                return self.term(node)
            if isinstance(node, Rep) and node.min == 0 and not nullable(node.item):
                inner = node.item if node.max == 1 else Rep(node.item, 1, node.max)
                return self._opt(self.expr(inner))
            if isinstance(node, Seq):
                return " ".join(filter(None, (self.expr(i) for i in node.items)))
            raise ValueError(f"internal: cannot render nullable terminal {node!r}")
        if isinstance(node, Ref):
            return node.name
        if isinstance(node, Seq):
            return self._seq(node.items)
        if isinstance(node, Alt):
            return self._helper(" | ".join(self.expr(i) or '""' for i in node.items))
        if isinstance(node, Rep):
            inner = self.expr(node.item)
            if isinstance(node.item, Seq) and len(node.item.items) > 1:
                inner = self._helper(inner)
            lo, hi = node.min, node.max
            if nullable(node.item, self.g):
                raise ValueError(f"internal: repetition of a nullable item {node.item!r}")
            if (lo, hi) == (0, 1):
                return self._opt(inner)
            if hi is None:
                if lo == 0:
                    return self._helper(inner + "*") if self.dialect == "lark" else inner + "*"
                if lo == 1:
                    return self._helper(inner + "+") if self.dialect == "lark" else inner + "+"
                return self._helper(f"{inner} ~ {lo} {inner}*") if self.dialect == "lark" else inner + "{%d,}" % lo
            if hi == 0:
                return ""
            if self.dialect == "lark":
                if lo == hi:
                    return self._helper(f"{inner} ~ {lo}")
                if lo == 0:
                    return self._opt(self._helper(f"{inner} ~ 1..{hi}"))
                return self._helper(f"{inner} ~ {lo}..{hi}")
            return inner + ("{%d}" % lo if lo == hi else "{%d,%d}" % (lo, hi))
        if isinstance(node, FreeText):
            return self._opt(self.free_text(node))
        raise TypeError(node)

    def _seq(self, items) -> str:
        out, i = [], 0
        while i < len(items):
            it = items[i]
            nxt = items[i + 1] if i + 1 < len(items) else None
            if _ref_free(it):
                # A maximal run of Ref-free items is ONE terminal: adjacent terminals that can
                # overlap (a string split into pieces, "[" vs a whole-array regex) defeat greedy
                # lexers (llguidance; lark's dynamic lexer).
                j = i
                while j < len(items) and _ref_free(items[j]):
                    j += 1
                # ...but a terminal must not end in an optional part: a greedy lexer would stay
                # in it where the next terminal should start (", \"regex\"" vs ", \"ext\"").
                while j > i + 1 and nullable(items[j - 1]):
                    j -= 1
                run = items[i:j]
                s = self.expr(run[0] if len(run) == 1 else Seq(tuple(run)))
                if s:
                    out.append(s)
                i = j
                continue
            if (
                self.dialect == "llguidance"
                and isinstance(it, FreeText)
                and it.avoid
                and isinstance(nxt, Lit)
                and nxt.text.startswith(it.avoid)
            ):
                # free text up to a trigger: one lazy lexeme that ends at the first trigger
                self._n += 1
                name = f"lazy_text{self._n}"
                esc = "".join(_re_char(c) for c in it.avoid)
                self.extra.append(f"{name}[lazy]: /(?s:.)*{esc}/")
                out.append(name)
                rest = nxt.text[len(it.avoid):]
                if rest:
                    out.append(_lark_string(rest))
                i += 2
                continue
            s = self.expr(it)
            if s:
                out.append(s)
            i += 1
        return " ".join(out)

    def free_text(self, node: FreeText) -> str:
        """A non-empty free-text terminal (callers make it optional)."""
        self._n += 1
        name = f"TEXT{self._n}"
        if self.dialect == "lark":
            if node.avoid:
                esc = "".join(_re_char(c) for c in node.avoid)
                self.extra.append(f"{name}: /(?:(?!{esc})(?s:.))+/")
            else:
                self.extra.append(f"{name}: /(?s:.)+/")
        elif node.avoid:
            esc = "".join(_re_char(c) for c in node.avoid)
            self.extra.append(f"{name}: /(?s:.)+/ & ~/(?s:.*){esc}(?s:.*)/")
        else:
            self.extra.append(f"{name}: /(?s:.)+/")
        return name

    def emit(self) -> str:
        lines = []
        if self.dialect == "llguidance":
            lines.append("%llguidance {}")
        for name in self.g.reachable():
            node = self.g.rules[name]
            if isinstance(node, Alt) and not (_ref_free(node) and self.dialect != "lark"):
                body = " | ".join(self.expr(i) or '""' for i in node.items)
            else:
                body = self.expr(node)
            lines.append(f"{name}: {body}" if body else f'{name}: ""')
        lines.extend(self.extra)
        return "\n".join(lines) + "\n"


def to_lark(g: Grammar) -> str:
    """Lark grammar for the `lark` package (Earley, lexer='dynamic'); start rule `start`."""
    return _LarkEmitter(g, "lark").emit()


def to_llguidance(g: Grammar) -> str:
    """Grammar in llguidance's Lark dialect (Rust regex terminals, lazy text prefixes)."""
    return _LarkEmitter(g, "llguidance").emit()


# ------------------------------------------------------------------------------------- GBNF
def _gbnf_char(c: str, in_class: bool) -> str:
    o = ord(c)
    if SURROGATES[0] <= o <= SURROGATES[1]:
        return f"\\u{o:04X}"
    if c == "\n":
        return "\\n"
    if c == "\t":
        return "\\t"
    if c == "\r":
        return "\\r"
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if c == "\\":
        return "\\\\"
    if in_class and c in "]^-[":
        return "\\" + c
    if not in_class and c == '"':
        return '\\"'
    return c


class _GbnfEmitter:
    def __init__(self, g: Grammar):
        self.g = g
        self.extra: list[str] = []
        self._n = 0

    def name(self, n: str) -> str:
        return "root" if n == self.g.start else n.replace("_", "-")

    def expr(self, node: Node) -> str:
        if isinstance(node, Lit):
            return '"' + "".join(_gbnf_char(c, False) for c in node.text) + '"'
        if isinstance(node, Chars):
            parts = []
            for a, b in node.ranges:
                if a == b:
                    parts.append(_gbnf_char(chr(a), True))
                else:
                    parts.append(_gbnf_char(chr(a), True) + "-" + _gbnf_char(chr(b), True))
            return "[" + ("^" if node.negated else "") + "".join(parts) + "]"
        if isinstance(node, Seq):
            if not node.items:
                return '""'
            return " ".join(self.atom(i) for i in node.items)
        if isinstance(node, Alt):
            return "(" + " | ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, Rep):
            return self.atom(node.item) + _quant(node.min, node.max)
        if isinstance(node, Ref):
            return self.name(node.name)
        if isinstance(node, FreeText):
            return self.free_text(node.avoid)
        raise TypeError(node)

    def atom(self, node: Node) -> str:
        s = self.expr(node)
        if isinstance(node, Seq) and len(node.items) > 1:
            return "(" + s + ")"
        return s

    def free_text(self, avoid: str | None) -> str:
        self._n += 1
        base = f"text{self._n}"
        if not avoid:
            self.extra.append(f"{base} ::= [^]*")
            return base
        n = len(avoid)
        alphabet, trans = _no_substring_dfa(avoid)
        other = "[^" + "".join(_gbnf_char(c, True) for c in alphabet) + "]"
        for s in range(n):
            alts = ['""']
            for t, cs in sorted(trans[s].items()):
                if t >= n:
                    continue
                cls = "[" + "".join(_gbnf_char(c, True) for c in sorted(cs)) + "]"
                alts.append(f"{cls} {base}-s{t}")
            alts.append(f"{other} {base}-s0")
            self.extra.append(f"{base}-s{s} ::= " + " | ".join(alts))
        return f"{base}-s0"

    def emit(self) -> str:
        lines = []
        for name in self.g.reachable():
            lines.append(f"{self.name(name)} ::= {self.expr(self.g.rules[name])}")
        lines.extend(self.extra)
        return "\n".join(lines) + "\n"


def to_gbnf(g: Grammar) -> str:
    """Grammar in xgrammar's EBNF; the start rule is `root`."""
    return _GbnfEmitter(g).emit()


def to_regex(g: Grammar, *, dialect: str = "rust") -> str:
    """The whole grammar as one regex (no lookaround). Raises `UnsupportedSchemaError` if the
    grammar is recursive (not regular)."""
    r = _RegexRenderer(g, dialect, inline_refs=True)
    return r.render(Ref(g.start))
