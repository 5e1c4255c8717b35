"""structcall as a transformers ``LogitsProcessor``: ``model.generate(..., logits_processor=[p])``.

Built once from a compiled grammar (``compile_tools(...)``) and the tokenizer; reusable across
``generate`` calls (it notices a new call and resets), one matcher per batch row. Under the
mask a row may end (EOS) only once its output is complete; after the grammar can take nothing
more, EOS is the only token left. It masks only: transformers picks every token, one forward
pass each, so there is no fast-forward (``structcall.generate`` has it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor

from structcall.decoding.backends import get_backend
from structcall.decoding.base import DecodingError, Matcher
from structcall.decoding.loop import _unpack
from structcall.decoding.vocab import stop_token_ids, tokenizer_info

__all__ = ["ToolLogitsProcessor"]


class ToolLogitsProcessor(LogitsProcessor):
    """Mask a transformers model's logits to the language of ``grammar``.

    Args:
        grammar: a ``ToolGrammar`` (``structcall.compile_tools(tools, format=..., ...)``).
        tokenizer: the model's Hugging Face tokenizer.
        backend: ``"llguidance"`` (default), ``"outlines"`` or ``"xgrammar"``.
        model: optional; its ``generation_config.eos_token_id`` joins the tokenizer's EOS as
            stop tokens (as in ``structcall.generate``).

    A call is recognised as new when ``input_ids`` does not extend the previous step's ids
    by one token (a new prompt or batch); :meth:`reset` forces it. Rows that ended (their last
    token is a stop token, then padding) are left unmasked. The output text is then parsed
    with ``structcall.parse_calls(text, grammar)``.
    """

    def __init__(self, grammar: Any, tokenizer: Any, *, backend: str = "llguidance", model: Any = None):
        self.grammar = grammar
        self.info = tokenizer_info(tokenizer, stop_token_ids(tokenizer, model))
        self.backend = get_backend(backend, tokenizer, stop_ids=self.info.stop_ids)
        self.backend.compile(grammar)
        self._text_allowed = torch.from_numpy(self.info.text_allowed)
        self._stops = torch.tensor(self.info.stop_ids, dtype=torch.long)
        self._matchers: list[Matcher] = []
        self._done: list[bool] = []
        self._prev: torch.Tensor | None = None
        self._bits = np.zeros((0, 0), dtype=np.int32)

    def reset(self) -> None:
        """Forget the current call (its matchers go back to the backend's pool)."""
        if self._matchers:
            self.backend.release(self.grammar, self._matchers)
        self._matchers, self._done, self._prev = [], [], None

    def _start(self, rows: int) -> None:
        self.reset()
        self._matchers = self.backend.matchers(self.grammar, rows)
        self._done = [False] * rows
        self._bits = np.zeros((rows, (self.info.vocab_size + 31) // 32), dtype=np.int32)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = input_ids.shape[0]
        prev = self._prev
        same_call = (prev is not None and prev.shape[0] == rows and input_ids.shape[1] == prev.shape[1] + 1
                     and torch.equal(input_ids[:, :-1].cpu(), prev))
        if same_call:
            for r, matcher in enumerate(self._matchers):
                if self._done[r]:
                    continue
                token = int(input_ids[r, -1])
                if token in self.info.stop_ids:
                    self._done[r] = True
                elif matcher.consume([token]) != 1:
                    raise DecodingError(f"row {r}: the grammar rejected token {token}, which its mask did not allow; "
                                        "was another logits processor run after this one?")
        else:
            self._start(rows)
        self._prev = input_ids.detach().cpu()
        vocab = self.info.vocab_size
        out = scores.clone()
        out[:, vocab:] = float("-inf")
        for r, matcher in enumerate(self._matchers):
            if self._done[r]:
                continue
            matcher.fill_bitmask(self._bits[r])
        live = [r for r in range(rows) if not self._done[r]]
        if live:
            allowed = _unpack(self._bits[live], vocab) & self._text_allowed
            for k, r in enumerate(live):
                if self._matchers[r].is_accepting():
                    allowed[k, self._stops] = True
                if not bool(allowed[k].any()):
                    raise DecodingError(f"row {r}: the grammar allows no token here (dead end)")
            index = torch.tensor(live, dtype=torch.long, device=out.device)
            out[index, :vocab] = out[index, :vocab].masked_fill(~allowed.to(out.device), float("-inf"))
        return out
