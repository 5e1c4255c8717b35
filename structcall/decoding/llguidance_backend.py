"""llguidance backend (the default): an Earley parser over the grammar's llguidance Lark dialect.

llguidance ships no transformers logits processor; structcall drives ``LLMatcher``
directly. Special tokens are never produced by llguidance's lexer inside grammar text
(they have no byte spelling there), and the decoder additionally masks them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structcall.decoding.base import Backend, BackendError, DecodingError, Matcher
from structcall.decoding.vocab import TokenizerInfo

import llguidance
import llguidance.hf

__all__ = ["LLGuidanceBackend"]


class _LLGMatcher(Matcher):
    def __init__(self, matcher: "llguidance.LLMatcher"):
        self._m = matcher

    def _check(self) -> None:
        if self._m.is_error():
            raise DecodingError(f"llguidance matcher error: {self._m.get_error()}")

    def fill_bitmask(self, row: np.ndarray) -> None:
        self._m.unsafe_compute_mask_ptr(row.ctypes.data, row.nbytes)
        self._check()

    def consume(self, tokens: list[int]) -> int:
        if not tokens:
            return 0
        n = self._m.validate_tokens(tokens)
        if n:
            self._m.consume_tokens(tokens[:n])
            self._check()
        return n

    def rollback(self, n: int) -> None:
        if n and not self._m.rollback(n):
            self._check()
            raise DecodingError(f"llguidance could not roll back {n} tokens")

    def is_accepting(self) -> bool:
        return self._m.is_accepting()

    def is_terminated(self) -> bool:
        return self._m.is_stopped()

    def forced_bytes(self) -> bytes:
        if self._m.is_accepting():
            return b""
        return self._m.compute_ff_bytes()

    def reset(self) -> None:
        self._m.reset()
        self._check()


class LLGuidanceBackend(Backend):
    name = "llguidance"
    extra = "llguidance"

    def __init__(self, tokenizer: Any, info: TokenizerInfo):
        super().__init__(tokenizer, info)
        try:
            self._lltok = llguidance.hf.from_tokenizer(
                tokenizer, n_vocab=info.vocab_size, eos_token=list(info.stop_ids)
            )
        except ValueError as exc:
            raise BackendError(
                f"llguidance needs a fast (Rust) Hugging Face tokenizer: {exc}"
            ) from exc

    def _compile(self, grammar: Any) -> Any:
        text = llguidance.LLMatcher.grammar_from_lark(grammar.llguidance())
        is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(text, self._lltok)
        if is_error:
            raise BackendError(f"llguidance rejected the grammar: {messages[0] if messages else '?'}")
        pristine = llguidance.LLMatcher(self._lltok, text, log_level=0)
        if pristine.is_error():
            raise BackendError(f"llguidance rejected the grammar: {pristine.get_error()}")
        return pristine

    def _new_matcher(self, compiled: Any) -> Matcher:
        return _LLGMatcher(compiled.deep_copy())
