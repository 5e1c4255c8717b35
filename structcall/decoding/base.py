"""The backend seam: a backend compiles a grammar once and hands out per-sequence matchers.

A backend consumes the core's ``ToolGrammar`` (``.llguidance()``, ``.gbnf()``,
``.regex()``, ``.cache_key``), never raw schemas. Compiled grammars are cached by
``cache_key``; matchers are pooled and reset, so nothing is rebuilt per call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np

from structcall.decoding.vocab import TokenizerInfo

__all__ = ["Backend", "BackendError", "DecodingError", "Matcher"]


class BackendError(RuntimeError):
    """A backend cannot be used: missing extra, or a grammar it cannot express."""


class DecodingError(RuntimeError):
    """The constrained decoder reached a state it cannot continue from (a bug, not the model's fault)."""


class Matcher(ABC):
    """The grammar state of one sequence."""

    @abstractmethod
    def fill_bitmask(self, row: np.ndarray) -> None:
        """Write the allowed next tokens into ``row`` (int32, one bit per token id)."""

    @abstractmethod
    def consume(self, tokens: list[int]) -> int:
        """Advance over the longest accepted prefix of ``tokens``; return its length."""

    @abstractmethod
    def rollback(self, n: int) -> None:
        """Undo the last ``n`` consumed tokens."""

    @abstractmethod
    def is_accepting(self) -> bool:
        """True when the text so far is a complete output (EOS may follow)."""

    @abstractmethod
    def is_terminated(self) -> bool:
        """True when nothing but EOS can follow."""

    @abstractmethod
    def forced_bytes(self) -> bytes:
        """The bytes every continuation must start with (empty when none, or when EOS may follow)."""

    @abstractmethod
    def reset(self) -> None:
        """Back to the start of the grammar."""


class Backend(ABC):
    """Compiles grammars for one tokenizer. Subclasses implement :meth:`_compile` and
    :meth:`_new_matcher`; this class caches compiled grammars and pools matchers."""

    name: ClassVar[str]
    #: pip extra that installs the backend's library
    extra: ClassVar[str]
    #: how many compiled grammars to keep
    cache_size: ClassVar[int] = 64

    def __init__(self, tokenizer: Any, info: TokenizerInfo):
        self.tokenizer = tokenizer
        self.info = info
        self._compiled: OrderedDict[str, tuple[Any, list[Matcher]]] = OrderedDict()

    @abstractmethod
    def _compile(self, grammar: Any) -> Any:
        """Compile a ``ToolGrammar`` into this backend's grammar object (the expensive step)."""

    @abstractmethod
    def _new_matcher(self, compiled: Any) -> Matcher:
        """A fresh matcher over a compiled grammar."""

    def compile(self, grammar: Any) -> Any:
        """Compile ``grammar`` or fetch it from the cache (keyed by ``grammar.cache_key``)."""
        key = grammar.cache_key
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key][0]
        compiled = self._compile(grammar)
        self._compiled[key] = (compiled, [])
        while len(self._compiled) > self.cache_size:
            self._compiled.popitem(last=False)
        return compiled

    def matchers(self, grammar: Any, n: int) -> list[Matcher]:
        """``n`` matchers at the start of ``grammar``: pooled ones reset, new ones as needed.

        The pool is per compiled grammar; a matcher handed out is owned by the caller
        until :meth:`release`.
        """
        self.compile(grammar)
        compiled, pool = self._compiled[grammar.cache_key]
        out: list[Matcher] = []
        while pool and len(out) < n:
            matcher = pool.pop()
            matcher.reset()
            out.append(matcher)
        while len(out) < n:
            out.append(self._new_matcher(compiled))
        return out

    def release(self, grammar: Any, matchers: list[Matcher]) -> None:
        """Give matchers back to the pool of ``grammar`` for reuse."""
        entry = self._compiled.get(grammar.cache_key)
        if entry is not None:
            entry[1].extend(matchers)
