"""Matching JSON Schema ``pattern`` / ``patternProperties`` regexes without catastrophic
backtracking.

A tool schema comes from whoever sends the tools, and the text it is matched against comes from a
model or a user: Python's backtracking `re` needs exponential time for patterns such as
``^(a+)+$`` on a string of ``a`` s that ends in ``!``. So every pattern check in structcall goes
through `search`:

1. RE2 (the ``google-re2`` package): linear time in the length of the text, whatever the pattern.
   It covers everything but lookarounds, backreferences, atomic groups and possessive repeats.
2. For those constructs, the ``regex`` package (a backtracking engine) under a time budget
   (`BUDGET_S` per match); without it, Python's `re` only for patterns that
   `backtracking_risk` finds safe.
3. A match that cannot be decided safely raises `PatternUndecided`: the validator reports the
   value as unchecked (a validation error that names the pattern), never hangs.
"""

from __future__ import annotations

import re
from functools import lru_cache

try:  # Python 3.11+
    import re._parser as _sre_p
except ImportError:  # pragma: no cover
    import sre_parse as _sre_p  # type: ignore[no-redef]

__all__ = ["search", "engine", "PatternUndecided", "BUDGET_S", "backtracking_risk"]

BUDGET_S = 0.1
"""Time budget (seconds) for one match by the backtracking fallback engine."""


class PatternUndecided(Exception):
    """A pattern match that could not be decided safely (unsupported by RE2, and the fallback
    engine ran out of its time budget or is not installed)."""

    def __init__(self, pattern: str, reason: str):
        self.pattern = pattern
        self.reason = reason
        super().__init__(f"pattern {pattern!r} could not be checked safely: {reason}")


try:
    import re2 as _re2

    _RE2_OPTIONS = _re2.Options()
    _RE2_OPTIONS.log_errors = False
except ImportError:  # pragma: no cover - google-re2 is a core dependency
    _re2 = None

try:
    import regex as _regex
except ImportError:  # pragma: no cover - optional fallback engine
    _regex = None

# constructs RE2 does not have (checked on Python's parse of the pattern, so that RE2 is never
# asked to compile a pattern it would read differently)
_NOT_RE2 = {"ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS", "ATOMIC_GROUP", "POSSESSIVE_REPEAT"}


def _ops(parsed):
    for op, arg in parsed:
        yield str(op), arg
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            yield from _ops(arg[2])
        elif name == "SUBPATTERN":
            yield from _ops(arg[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            yield from _ops(arg[1])
        elif name == "ATOMIC_GROUP":
            yield from _ops(arg)
        elif name == "BRANCH":
            for b in arg[1]:
                yield from _ops(b)
        elif name == "GROUPREF_EXISTS":
            for b in arg[1:]:
                if b is not None:
                    yield from _ops(b)


def _repeat_bodies(parsed, inside: bool = False):
    """(body, nested) for each repeat with max > 1; nested: inside another such repeat."""
    for op, arg in parsed:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, body = arg
            if hi > 1:
                yield body, inside
                yield from _repeat_bodies(body, True)
            else:
                yield from _repeat_bodies(body, inside)
        elif name == "SUBPATTERN":
            yield from _repeat_bodies(arg[-1], inside)
        elif name == "BRANCH":
            for b in arg[1]:
                yield from _repeat_bodies(b, inside)
        elif name in ("ASSERT", "ASSERT_NOT"):
            yield from _repeat_bodies(arg[1], inside)


def backtracking_risk(pattern: str) -> str | None:
    """Why a backtracking engine might need exponential time on `pattern` (a repeat of a body
    that can match in several ways: a variable-width repeat or an alternation inside it), or
    None when it is safe. Conservative: may flag safe patterns, never misses nested repeats."""
    try:
        parsed = _sre_p.parse(pattern)
    except (re.error, RecursionError, OverflowError) as e:
        return f"invalid regular expression: {e}"
    for body, _ in _repeat_bodies(parsed):
        for name, arg in _ops(body):
            if name in ("MAX_REPEAT", "MIN_REPEAT") and arg[0] != arg[1]:
                return "a variable-length repeat inside a repeat"
            if name == "BRANCH":
                return "an alternation inside a repeat"
            if name in ("GROUPREF", "GROUPREF_EXISTS"):
                return "a backreference inside a repeat"
    return None


@lru_cache(maxsize=2048)
def engine(pattern: str) -> str:
    """The engine `search` uses for `pattern`: "re2", "regex" (time-budgeted), "re" (only for
    patterns without backtracking risk) or "none" (cannot be checked safely here). Raises
    `re.error` for an invalid pattern."""
    parsed = _sre_p.parse(pattern)  # raises re.error
    names = {name for name, _ in _ops(parsed)}
    if _re2 is not None and not (names & _NOT_RE2):
        try:
            _re2_compile(pattern)
            return "re2"
        except _re2.error:
            pass
    if _regex is not None:
        return "regex"
    return "re" if backtracking_risk(pattern) is None else "none"


@lru_cache(maxsize=2048)
def _re2_compile(pattern: str):
    return _re2.compile(pattern, _RE2_OPTIONS)


@lru_cache(maxsize=2048)
def _regex_compile(pattern: str):
    return _regex.compile(pattern, _regex.VERSION0)


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text` (JSON Schema ``pattern`` semantics:
    unanchored search). Linear-time with RE2; a fallback match that cannot be decided within
    `BUDGET_S` raises `PatternUndecided`."""
    kind = engine(pattern)
    if kind == "re2":
        return _re2_compile(pattern).search(text) is not None
    if kind == "regex":
        try:
            return _regex_compile(pattern).search(text, timeout=BUDGET_S) is not None
        except TimeoutError:
            why = "google-re2 is not installed" if _re2 is None else "RE2 cannot run this pattern (a lookaround, backreference or atomic group)"
            raise PatternUndecided(pattern, f"the backtracking engine needed more than {BUDGET_S} s ({why})") from None
    if kind == "re":
        return re.search(pattern, text) is not None
    raise PatternUndecided(pattern, "RE2 cannot run it and the time-budgeted 'regex' package is not installed")
