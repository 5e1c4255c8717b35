"""outlines backend: outlines-core's regex -> DFA -> token index, over the grammar's ``regex()``.

outlines-core handles regular languages only. A ``ToolGrammar`` whose language is not
regular (recursive schemas, for instance) makes ``regex()`` raise
``UnsupportedSchemaError``; this backend then raises :class:`BackendError` and names
the backends that can take the grammar. It never falls back to a weaker regex.

outlines' own transformers integration is not used: its ``from_transformers`` changes
``tokenizer.padding_side``, it applies the chat template to string prompts, and it builds
its vocabulary from token strings (so byte-level tokens holding part of a UTF-8
character become U+FFFD and strings can come out as invalid UTF-8). Here the vocabulary
is built from each token's exact bytes, special tokens excluded.

Two outlines-core 0.2 behaviours would silently change the language, so the regex is
compiled as ``(?:R)`` followed by a sentinel character (U+10FFFF) that a virtual token
(one id past the vocabulary) spells:

* its DFA uses leftmost-first semantics, so once one alternative completes the whole regex,
  lower-priority alternatives still alive are dropped (``x*|y.*`` never lets ``y`` start);
* ``Index`` drops every token whose bytes pass a match point and continue without ending at
  one (the DFA reports matches one byte late), so after a complete call a one-byte ``\n``
  that would start a second parallel call is refused.

With the sentinel, the whole pattern matches only once the sentinel is consumed, so neither
applies; "the output is complete" is read as "the sentinel token leads to a final state".
Real tokens containing byte 0xF4 (which only starts characters U+100000-U+10FFFF, Private
Use plane 16) are left out of the vocabulary so no real token can spell the sentinel: the
outlines backend cannot emit those characters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structcall.decoding.base import Backend, BackendError, DecodingError, Matcher
from structcall.decoding.vocab import TokenizerInfo
from structcall.errors import UnsupportedSchemaError

from outlines_core import Guide, Index, Vocabulary

__all__ = ["OutlinesBackend"]

#: a state whose allowed-token list is longer than this is not forced
_MAX_FORCED_FANOUT = 512
#: upper bound on forced bytes computed in one go
_MAX_FORCED_BYTES = 512
#: how many tokens a matcher can roll back
_MAX_ROLLBACK = 1024
#: U+10FFFF: the sentinel that ends every compiled regex (see the module docstring)
_SENTINEL = "\U0010ffff"
_SENTINEL_BYTES = _SENTINEL.encode("utf-8")


class _Compiled:
    def __init__(self, index: Index, info: TokenizerInfo):
        self.index = index
        self.info = info
        self.eos = info.stop_ids[0]
        self.sentinel = info.vocab_size  # the virtual token's id
        self.words = (info.vocab_size + 1 + 31) // 32
        self._forced: dict[int, bytes] = {}
        self._terminal: dict[int, bool] = {}
        self._accepting: dict[int, bool] = {}

    def real(self, tokens: list[int]) -> list[int]:
        return [t for t in tokens if t != self.eos and t != self.sentinel]

    def is_accepting(self, state: int) -> bool:
        if state not in self._accepting:
            after = self.index.get_next_state(state, self.sentinel)
            self._accepting[state] = after is not None and self.index.is_final_state(after)
        return self._accepting[state]

    def is_terminal(self, state: int) -> bool:
        if state not in self._terminal:
            self._terminal[state] = self.is_accepting(state) and not self.real(
                self.index.get_allowed_tokens(state)
            )
        return self._terminal[state]

    def forced(self, state: int) -> bytes:
        """Bytes every continuation from ``state`` must start with, by walking the index."""
        if state in self._forced:
            return self._forced[state]
        out = b""
        cur = state
        while len(out) < _MAX_FORCED_BYTES and not self.is_accepting(cur):
            allowed = self.index.get_allowed_tokens(cur)
            if len(allowed) > _MAX_FORCED_FANOUT:
                break
            pieces = {self.info.token_bytes[t]: t for t in self.real(allowed)}
            if not pieces:
                break
            lo, hi = min(pieces), max(pieces)
            n = 0
            for a, b in zip(lo, hi):
                if a != b:
                    break
                n += 1
            prefix = lo[:n]
            if not prefix:
                break
            out += prefix
            step = pieces.get(prefix)
            if step is None:
                break  # forced text continues inside longer tokens only
            nxt = self.index.get_next_state(cur, step)
            if nxt is None:
                break
            cur = nxt
        self._forced[state] = out
        return out


class _OutlinesMatcher(Matcher):
    def __init__(self, compiled: _Compiled):
        self._c = compiled
        self._guide = Guide(compiled.index, max_rollback=_MAX_ROLLBACK)
        self._scratch = np.zeros(compiled.words, dtype=np.int32)

    def fill_bitmask(self, row: np.ndarray) -> None:
        self._guide.write_mask_into(self._scratch.ctypes.data, self._scratch.size, 4)
        bits = self._scratch.view(np.uint32)
        sentinel = self._c.sentinel
        bits[sentinel // 32] &= np.uint32(~(1 << (sentinel % 32)) & 0xFFFFFFFF)
        row[:] = self._scratch[: row.size]

    def consume(self, tokens: list[int]) -> int:
        n = 0
        state = self._guide.get_state()
        for token in tokens:
            if token == self._c.eos or token == self._c.sentinel:
                break
            nxt = self._c.index.get_next_state(state, token)
            if nxt is None:
                break
            self._guide.advance(token, return_tokens=False)
            state = nxt
            n += 1
        return n

    def rollback(self, n: int) -> None:
        if n:
            try:
                self._guide.rollback_state(n)
            except ValueError as exc:
                raise DecodingError(f"outlines-core could not roll back {n} tokens: {exc}") from exc

    def is_accepting(self) -> bool:
        return self._c.is_accepting(self._guide.get_state())

    def is_terminated(self) -> bool:
        return self._c.is_terminal(self._guide.get_state())

    def forced_bytes(self) -> bytes:
        return self._c.forced(self._guide.get_state())

    def reset(self) -> None:
        self._guide.reset()


class OutlinesBackend(Backend):
    name = "outlines"
    extra = "outlines"

    def __init__(self, tokenizer: Any, info: TokenizerInfo):
        super().__init__(tokenizer, info)
        mapping: dict[bytes, list[int]] = {}
        for token_id, piece in enumerate(info.token_bytes):
            if info.text_allowed[token_id] and b"\xf4" not in piece:
                mapping.setdefault(piece, []).append(token_id)
        mapping.setdefault(_SENTINEL_BYTES, []).append(info.vocab_size)
        self._vocabulary = Vocabulary(info.stop_ids[0], mapping)

    def _compile(self, grammar: Any) -> Any:
        try:
            regex = grammar.regex()
        except UnsupportedSchemaError as exc:
            raise BackendError(
                "backend='outlines' needs a regular grammar (outlines-core compiles a regex to a "
                f"DFA), but this one is not regular: {exc}. Use backend='llguidance' or "
                "backend='xgrammar', which handle context-free grammars."
            ) from exc
        try:
            index = Index(f"(?:{regex}){_SENTINEL}", self._vocabulary)
        except Exception as exc:  # outlines-core raises ValueError/RuntimeError variants
            raise BackendError(f"outlines-core could not compile the grammar's regex: {exc}") from exc
        return _Compiled(index, self.info)

    def _new_matcher(self, compiled: Any) -> Matcher:
        return _OutlinesMatcher(compiled)
