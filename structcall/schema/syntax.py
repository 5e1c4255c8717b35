"""How values are written: JSON, or Python literals (the pythonic format's keyword arguments).

The compiler asks a `Syntax` for everything that differs between the two (the constants, the
characters inside a string literal, the quotes a string may take, the text of a constant), so it
has no per-syntax branches of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..grammar import Chars, Lit, Node, Rep, alt, seq

DIGIT = Chars.of([(ord("0"), ord("9"))])
DIGIT19 = Chars.of([(ord("1"), ord("9"))])
HEX = Chars.of([(ord("0"), ord("9")), (ord("a"), ord("f")), (ord("A"), ord("F"))])
_CONTROL = (0x00, 0x1F)
PLAIN_CHAR = Chars.of([_CONTROL, (ord('"'), ord('"')), (ord("\\"), ord("\\"))], negated=True)
PLAIN_SQ_CHAR = Chars.of([_CONTROL, (ord("'"), ord("'")), (ord("\\"), ord("\\"))], negated=True)
ANY_DECODED = Chars.of([], negated=True)


# separators between values: the canonical ", " and ": ", or the compact "," and ":" that
# json.dumps(separators=(",", ":")) and many models write (bounded: nothing else)
COMMA = alt(Lit(", "), Lit(","))
COLON = alt(Lit(": "), Lit(":"))


def lit_chars(s: str) -> Chars:
    """The class of the characters of `s`."""
    return Chars.of([(ord(c), ord(c)) for c in s])


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


@dataclass(frozen=True)
class Syntax:
    """One way of writing values.

    Attributes:
        name: "json" or "python".
        true, false, null: the constants' texts.
        char: one character inside a ``"``-quoted string literal.
        sq_char: one character inside a ``'``-quoted string literal, or None when strings take
            double quotes only.
    """

    name: str
    true: str
    false: str
    null: str
    char: Node
    sq_char: Node | None

    @property
    def tag(self) -> str:
        """A one-letter suffix that keeps the rule names of the two syntaxes apart."""
        return self.name[0]

    def constants(self) -> list[Node]:
        return [Lit(self.true), Lit(self.false), Lit(self.null)]

    def string(self, lo: int, hi: int) -> Node:
        """A string literal of `lo` to `hi` characters, in every quoting the syntax allows."""
        q = Lit('"')
        dq = seq(q, Rep(self.char, lo, hi), q)
        if self.sq_char is None:
            return dq
        return alt(dq, seq(Lit("'"), Rep(self.sq_char, lo, hi), Lit("'")))

    def constant_texts(self, value) -> list[str]:
        """The texts of a constant value: the canonical one, then (Python) the single-quoted
        form `repr` writes for a string, ``'celsius'``. Raises ValueError for a value that is
        not JSON."""
        texts = [render_literal(value, self.name)]
        if self.sq_char is not None and isinstance(value, str):
            r = repr(value)
            if r.startswith("'"):
                texts.append(r)
        return texts


_ESCAPE_U = seq(Lit("\\u"), Rep(HEX, 4, 4))
JSON = Syntax(
    "json", "true", "false", "null",
    char=alt(PLAIN_CHAR, seq(Lit("\\"), lit_chars('"\\/bfnrt')), _ESCAPE_U),
    sq_char=None,
)


def _python_char(plain: Chars) -> Node:
    # Python's escapes: \' and \xhh too, no \/
    return alt(plain, seq(Lit("\\"), lit_chars("\"'\\bfnrt")), _ESCAPE_U, seq(Lit("\\x"), Rep(HEX, 2, 2)))


PYTHON = Syntax("python", "True", "False", "None", char=_python_char(PLAIN_CHAR), sq_char=_python_char(PLAIN_SQ_CHAR))
SYNTAXES = {"json": JSON, "python": PYTHON}
