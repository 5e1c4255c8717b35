"""xgrammar backend (optional extra): a pushdown automaton over the grammar's EBNF (``gbnf()``).

xgrammar's own transformers logits processor works for one ``generate()`` call only;
structcall drives ``GrammarMatcher`` directly, one per sequence, and resets it per call.
The extra pulls in ``triton`` on Linux, which does nothing on CPU; installing
``xgrammar apache-tvm-ffi`` with ``--no-deps`` is enough for CPU decoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structcall.decoding.base import Backend, BackendError, DecodingError, Matcher
from structcall.decoding.vocab import TokenizerInfo

import xgrammar

__all__ = ["XGrammarBackend"]


class _XGMatcher(Matcher):
    def __init__(self, compiled: Any, info: TokenizerInfo):
        self._m = xgrammar.GrammarMatcher(compiled, override_stop_tokens=list(info.stop_ids))
        self._info = info
        self._scratch = np.zeros((1, (info.vocab_size + 31) // 32), dtype=np.int32)

    def fill_bitmask(self, row: np.ndarray) -> None:
        self._m.fill_next_token_bitmask(row.reshape(1, -1), 0)

    def consume(self, tokens: list[int]) -> int:
        n = 0
        for token in tokens:
            if not self._m.accept_token(token):
                break
            n += 1
        return n

    def rollback(self, n: int) -> None:
        if n:
            try:
                self._m.rollback(n)
            except Exception as exc:  # xgrammar raises its own RuntimeError subclasses
                raise DecodingError(f"xgrammar could not roll back {n} tokens: {exc}") from exc

    def is_accepting(self) -> bool:
        return self._m.is_completed()

    def is_terminated(self) -> bool:
        if not self._m.is_completed():
            return False
        self._m.fill_next_token_bitmask(self._scratch, 0)
        bits = self._scratch[0].view(np.uint32).copy()
        for t in self._info.stop_ids:
            bits[t // 32] &= np.uint32(~(1 << (t % 32)) & 0xFFFFFFFF)
        return not bits.any()

    def forced_bytes(self) -> bytes:
        if self._m.is_completed():
            return b""
        return self._m.find_jump_forward_string().encode("utf-8")

    def reset(self) -> None:
        self._m.reset()


class XGrammarBackend(Backend):
    name = "xgrammar"
    extra = "xgrammar"

    def __init__(self, tokenizer: Any, info: TokenizerInfo):
        super().__init__(tokenizer, info)
        tok_info = xgrammar.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=info.vocab_size, stop_token_ids=list(info.stop_ids)
        )
        self._compiler = xgrammar.GrammarCompiler(tok_info)

    def _compile(self, grammar: Any) -> Any:
        try:
            return self._compiler.compile_grammar(grammar.gbnf(), root_rule_name="root")
        except Exception as exc:  # xgrammar raises RuntimeError/ValueError variants
            raise BackendError(f"xgrammar rejected the grammar: {exc}") from exc

    def _new_matcher(self, compiled: Any) -> Matcher:
        return _XGMatcher(compiled, self.info)
