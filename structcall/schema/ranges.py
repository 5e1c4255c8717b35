"""Integer ranges as grammar nodes: the canonical decimal texts of the integers in [lo, hi]."""

from __future__ import annotations

from functools import lru_cache

from ..grammar import Chars, Lit, Node, Rep, alt, seq
from .syntax import DIGIT


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

