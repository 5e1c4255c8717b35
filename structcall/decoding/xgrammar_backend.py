"""xgrammar backend (optional extra): a pushdown automaton over the grammar's EBNF (``gbnf()``).

xgrammar's own transformers logits processor works for one ``generate()`` call only;
structcall drives ``GrammarMatcher`` directly, one per sequence, and resets it per call.
The extra pulls in ``triton`` on Linux, which does nothing on CPU; installing
``xgrammar apache-tvm-ffi`` with ``--no-deps`` is enough for CPU decoding.

xgrammar 0.2.8 lets free text and strings spell UTF-16 surrogates in UTF-8 (``ED A0..BF ..``,
which is not valid UTF-8; measured: 26 of 256 sampled random-model outputs). This backend
masks those tokens: any token containing ``ED`` followed by ``A0..BF``, and, right after a
token that ends on the lead byte ``ED``, any token starting with ``A0..BF``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from structcall.decoding.base import Backend, BackendError, DecodingError, Matcher
from structcall.decoding.vocab import TokenizerInfo

import xgrammar

__all__ = ["XGrammarBackend"]


def _clear_plan(ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(word indices, AND masks) that clear the bits of ``ids`` in a uint32 bitmask row."""
    masks: dict[int, int] = {}
    for t in ids:
        masks[t // 32] = masks.get(t // 32, 0xFFFFFFFF) & ~(1 << (t % 32)) & 0xFFFFFFFF
    words = np.array(sorted(masks), dtype=np.int64)
    return words, np.array([masks[w] for w in sorted(masks)], dtype=np.uint32)


class _Surrogates:
    """Tokens that would spell a UTF-16 surrogate (invalid UTF-8), per tokenizer."""

    def __init__(self, info: TokenizerInfo):
        always, after_ed = [], []
        for t, piece in enumerate(info.token_bytes):
            if any(a == 0xED and 0xA0 <= b <= 0xBF for a, b in zip(piece, piece[1:])):
                always.append(t)
            if piece and 0xA0 <= piece[0] <= 0xBF:
                after_ed.append(t)
        self.always = set(always)
        self.after_ed = set(after_ed)
        self.always_plan = _clear_plan(always)
        self.after_ed_plan = _clear_plan(after_ed)


class _XGMatcher(Matcher):
    def __init__(self, compiled: Any, info: TokenizerInfo, surrogates: _Surrogates):
        self._m = xgrammar.GrammarMatcher(compiled, override_stop_tokens=list(info.stop_ids))
        self._info = info
        self._sur = surrogates
        self._history: list[int] = []
        self._scratch = np.zeros((1, (info.vocab_size + 31) // 32), dtype=np.int32)

    def _after_ed(self) -> bool:
        return bool(self._history) and self._info.token_bytes[self._history[-1]][-1:] == b"\xed"

    def fill_bitmask(self, row: np.ndarray) -> None:
        self._m.fill_next_token_bitmask(row.reshape(1, -1), 0)
        bits = row.view(np.uint32)
        plans = [self._sur.always_plan] + ([self._sur.after_ed_plan] if self._after_ed() else [])
        for words, masks in plans:
            if len(words):
                bits[words] &= masks

    def consume(self, tokens: list[int]) -> int:
        n = 0
        for token in tokens:
            if token in self._sur.always or (token in self._sur.after_ed and self._after_ed()):
                break
            if not self._m.accept_token(token):
                break
            self._history.append(token)
            n += 1
        return n

    def rollback(self, n: int) -> None:
        if n:
            try:
                self._m.rollback(n)
            except Exception as exc:  # xgrammar raises its own RuntimeError subclasses
                raise DecodingError(f"xgrammar could not roll back {n} tokens: {exc}") from exc
            del self._history[-n:]

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
        self._history.clear()


class XGrammarBackend(Backend):
    name = "xgrammar"
    extra = "xgrammar"

    def __init__(self, tokenizer: Any, info: TokenizerInfo):
        super().__init__(tokenizer, info)
        tok_info = xgrammar.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=info.vocab_size, stop_token_ids=list(info.stop_ids)
        )
        self._compiler = xgrammar.GrammarCompiler(tok_info)
        self._surrogates = _Surrogates(info)

    def _compile(self, grammar: Any) -> Any:
        try:
            return self._compiler.compile_grammar(grammar.gbnf(), root_rule_name="root")
        except Exception as exc:  # xgrammar raises RuntimeError/ValueError variants
            raise BackendError(f"xgrammar rejected the grammar: {exc}") from exc

    def _new_matcher(self, compiled: Any) -> Matcher:
        return _XGMatcher(compiled, self.info, self._surrogates)
