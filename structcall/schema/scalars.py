"""Rules for scalar values: constants (enum/const), integers, numbers and strings."""

from __future__ import annotations

import math
import re

from ..errors import Problem, SchemaError
from ..grammar import EMPTY, Lit, Node, Rep, alt, opt, seq
from .notes import ANNOTATIONS
from .ranges import int_range
from .regex import FORMAT_REGEXES, PatternCompiler, PatternUnsupported
from .syntax import DIGIT, DIGIT19, lit_chars


class ScalarRules:
    """The scalar half of `SchemaCompiler` (a mixin: it uses the compiler's notes, limits and
    syntax)."""

    def _enum(self, schema: dict, pointer: str) -> Node:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        if not isinstance(values, list) or not values and "enum" in schema:
            raise SchemaError([Problem(f"{pointer}/enum", "enum must be a non-empty array")])
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const") and k not in ANNOTATIONS}
        if rest:
            from jsonschema import Draft202012Validator

            v = Draft202012Validator(rest)
            values = [x for x in values if v.is_valid(x)]
            if not values:
                raise SchemaError([Problem(pointer, "no value of enum/const satisfies the rest of the schema")])
        out = []
        for x in values:
            try:
                out.extend(Lit(t) for t in self.lang.constant_texts(x))
            except ValueError as e:
                raise SchemaError([Problem(pointer, f"enum value {x!r} is not JSON: {e}")]) from None
        return alt(*out)


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
        exp = opt(seq(lit_chars("eE"), opt(lit_chars("+-")), Rep(DIGIT, 1, 2)))  # stays finite
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
                body = seq(q, PatternCompiler(cap).compile("^" + rx + "$"), q)
                if self.lang.sq_char is not None:  # Python literals: either quote style ('2019-12-13')
                    body = alt(body, seq(Lit("'"), PatternCompiler(cap, "'").compile("^" + rx + "$"), Lit("'")))
                return body
        if fmt is not None and pattern is not None:
            self.note_unenforced(f"{pointer}/format", "format", "format together with pattern is checked by the validator")
        if pattern is not None:
            try:
                pc = PatternCompiler(hi if hi is not None else cap)
                body = pc.compile(pattern)
            except re.error as e:
                raise SchemaError([Problem(f"{pointer}/pattern", f"invalid regular expression: {e}")]) from None
            except (PatternUnsupported, RecursionError, OverflowError) as e:
                self.note_unenforced(f"{pointer}/pattern", "pattern", f"{e} is not expressible in the grammar; checked by the validator")
                body = None
            if body is not None:
                if pc.capped:
                    self.note_cap(f"{pointer}/pattern", "pattern", f"unbounded repetition limited to {hi if hi is not None else cap}")
                if lo or hi is not None:
                    self.note_unenforced(pointer, "maxLength" if hi is not None else "minLength", "length together with pattern is checked by the validator")
                if self.lang.sq_char is not None:  # Python literals: either quote style
                    sq = PatternCompiler(hi if hi is not None else cap, "'").compile(pattern)
                    return alt(seq(q, body, q), seq(Lit("'"), sq, Lit("'")))
                return seq(q, body, q)
        if hi is None:
            hi = max(cap, lo)
            self.note_cap(pointer, "maxLength", f"string limited to {hi} characters")
        if lo > hi:
            raise SchemaError([Problem(pointer, f"minLength {lo} > maxLength {hi}")])
        return self.lang.string(lo, int(hi))

