"""The decoding loop for Hugging Face causal LMs: batched, KV-cached, grammar-masked.

Every sequence has its own matcher (or none, for unconstrained decoding). Each round,
sequences whose model input is up to date sample one token under their mask; where the
grammar then forces text (envelope, keys, the rest of a tool name), that text is
tokenized the way the model's tokenizer would tokenize it (canonical tokenization) and
appended without sampling. All tokens decided since the last forward pass are fed in one
multi-token forward pass ("fast-forward"). Sequences in a batch feed different numbers
of tokens; shorter feeds are left-padded inside the chunk and masked out, so the KV cache
holds masked holes but every row's last position is real.

The grammar never includes EOS: a stop token is allowed exactly when the matcher is
accepting, and a sequence ends when the grammar can take nothing more.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

import numpy as np
import torch

from structcall.decoding.base import DecodingError, Matcher
from structcall.decoding.vocab import TokenizerInfo

__all__ = ["DecodeStats", "Sequence", "decode", "iter_decode"]

FastForward = Literal["chunk", "stepwise", "off"]


@dataclass
class Sequence:
    """One sequence to decode, and (after decoding) what came out."""

    prompt_ids: list[int]
    matcher: Matcher | None = None
    seed: int | None = None
    token_ids: list[int] = field(default_factory=list)
    #: tokens appended by fast-forward rather than sampled
    forced: int = 0
    #: "grammar" (grammar complete), "eos" (stop token sampled) or "length" (max_new_tokens)
    finish: str | None = None
    _queue: list[int] = field(default_factory=list, repr=False)
    _generator: torch.Generator | None = field(default=None, repr=False)


@dataclass
class DecodeStats:
    """Wall-clock split of one :func:`decode` call (seconds) and pass counts."""

    prefill_s: float = 0.0
    forward_s: float = 0.0
    mask_s: float = 0.0
    total_s: float = 0.0
    forward_passes: int = 0


def _unpack(bits: np.ndarray, vocab_size: int) -> torch.Tensor:
    """int32 bitmask rows -> bool tensor (rows, vocab_size)."""
    words = torch.from_numpy(bits)
    shifts = torch.arange(32, dtype=torch.int32)
    unpacked = ((words.unsqueeze(-1) >> shifts) & 1).bool()
    return unpacked.reshape(bits.shape[0], -1)[:, :vocab_size]


def _sample(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator | None) -> int:
    if temperature <= 0.0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        drop = cumulative - sorted_probs >= top_p  # keep the smallest set reaching top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=gen))


def _valid_utf8_prefix(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].decode("utf-8")


def _forced_tokens(seq: Sequence, tokenizer: Any, info: TokenizerInfo, budget: int) -> list[int]:
    """Consume and return the canonical tokens of the text the grammar forces next.

    The forced text is tokenized in context (after the previous token's text, so a merge
    across the boundary is seen); the last token is held back unless the grammar ends
    there, because it could merge with whatever the model writes next.
    """
    matcher = seq.matcher
    assert matcher is not None
    if budget <= 0:
        return []
    text = _valid_utf8_prefix(matcher.forced_bytes())
    if not text:
        return []
    ids: list[int] | None = None
    if seq.token_ids:
        last = seq.token_ids[-1]
        try:
            prev = info.token_bytes[last].decode("utf-8")
        except UnicodeDecodeError:
            prev = ""
        if prev and last not in info.special_ids:
            both = tokenizer.encode(prev + text, add_special_tokens=False)
            if both and both[0] == last:
                ids = both[1:]
    if ids is None:
        ids = tokenizer.encode(text, add_special_tokens=False)
    ids = ids[:budget]
    for k, token in enumerate(ids):
        if token >= info.vocab_size or not info.text_allowed[token]:
            ids = ids[:k]
            break
    n = matcher.consume(ids)
    ids = ids[:n]
    if ids and not matcher.is_terminated():
        matcher.rollback(1)
        ids = ids[:-1]
    return ids


def _after_token(seq: Sequence, token: int, tokenizer: Any, info: TokenizerInfo,
                 max_new_tokens: int, fast_forward: FastForward) -> list[int]:
    """Commit a sampled token (and any forced tokens after it); return the new tokens."""
    if token in info.stop_ids:
        seq.finish = "eos"
        return []
    if seq.matcher is not None and seq.matcher.consume([token]) != 1:
        raise DecodingError(f"the matcher rejected token {token} that its own mask allowed")
    seq.token_ids.append(token)
    seq._queue.append(token)
    new = [token]
    new += _maybe_forced(seq, tokenizer, info, max_new_tokens, fast_forward)
    return new


def _maybe_forced(seq: Sequence, tokenizer: Any, info: TokenizerInfo,
                  max_new_tokens: int, fast_forward: FastForward) -> list[int]:
    forced: list[int] = []
    if seq.matcher is not None:
        if fast_forward != "off" and not seq.matcher.is_terminated():
            forced = _forced_tokens(seq, tokenizer, info, max_new_tokens - len(seq.token_ids))
            seq.token_ids += forced
            seq._queue += forced
            seq.forced += len(forced)
        if seq.matcher.is_terminated():
            seq.finish = "grammar"
    if seq.finish is None and len(seq.token_ids) >= max_new_tokens:
        seq.finish = "length"
    return forced


class _Model:
    """Forward passes over a shrinking batch with a KV cache."""

    def __init__(self, model: Any, pad_id: int):
        self.model = model
        self.pad_id = pad_id
        self.attn: torch.Tensor | None = None
        self.cache: Any = None
        params = inspect.signature(model.forward).parameters
        self.keep_last = "logits_to_keep" in params
        try:
            self.device = next(model.parameters()).device
        except StopIteration:  # pragma: no cover
            self.device = torch.device("cpu")

    def forward(self, feeds: list[list[int]]) -> torch.Tensor:
        width = max(len(f) for f in feeds)
        ids = torch.full((len(feeds), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(feeds), width), dtype=torch.long)
        for row, feed in enumerate(feeds):
            ids[row, width - len(feed):] = torch.tensor(feed, dtype=torch.long)
            mask[row, width - len(feed):] = 1
        self.attn = mask if self.attn is None else torch.cat([self.attn, mask], dim=1)
        positions = (self.attn.cumsum(dim=1) - 1).clamp(min=0)[:, -width:]
        kwargs: dict[str, Any] = {}
        if self.keep_last:
            kwargs["logits_to_keep"] = 1
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=self.attn.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=self.cache,
            use_cache=True,
            **kwargs,
        )
        self.cache = out.past_key_values
        return out.logits[:, -1, :].float().cpu()

    def keep(self, rows: list[int]) -> None:
        index = torch.tensor(rows, dtype=torch.long)
        assert self.attn is not None
        self.attn = self.attn[index]
        self.cache.batch_select_indices(index.to(self.device))


def iter_decode(
    model: Any,
    tokenizer: Any,
    info: TokenizerInfo,
    seqs: list[Sequence],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    fast_forward: FastForward = "chunk",
    stats: DecodeStats | None = None,
) -> Iterator[list[tuple[int, list[int]]]]:
    """Decode ``seqs`` in one batch; after every round yield ``[(seq_index, new_tokens), ...]``.

    ``fast_forward``: ``"chunk"`` feeds forced tokens in one multi-token forward pass;
    ``"stepwise"`` appends the same forced tokens but feeds them one pass each (the
    reference the fast path is tested against); ``"off"`` never forces: the model picks
    every token under the mask. ``temperature <= 0`` is greedy. Each sequence samples
    from its own ``torch.Generator`` seeded with ``Sequence.seed``.
    """
    if fast_forward not in ("chunk", "stepwise", "off"):
        raise ValueError(f"fast_forward must be 'chunk', 'stepwise' or 'off', not {fast_forward!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], not {top_p}")
    stats = stats if stats is not None else DecodeStats()
    start = time.perf_counter()
    vocab = info.vocab_size
    words = (vocab + 31) // 32
    bitmask = np.zeros((len(seqs), words), dtype=np.int32)
    text_allowed = torch.from_numpy(info.text_allowed)
    stop_ids = torch.tensor(info.stop_ids, dtype=torch.long)

    first: list[tuple[int, list[int]]] = []
    for i, seq in enumerate(seqs):
        if not seq.prompt_ids:
            raise ValueError(f"sequence {i} has an empty prompt")
        if seq.seed is not None:
            seq._generator = torch.Generator().manual_seed(seq.seed)
        if max_new_tokens <= 0:
            seq.finish = "length"
            continue
        forced = _maybe_forced(seq, tokenizer, info, max_new_tokens, fast_forward)
        if forced:
            first.append((i, forced))
    if first:
        yield first

    def take(seq: Sequence) -> list[int]:
        if fast_forward == "chunk":
            feed, seq._queue = seq._queue, []
        else:
            feed, seq._queue = seq._queue[:1], seq._queue[1:]
        return feed

    active = [i for i, s in enumerate(seqs) if s.finish is None]
    runner = _Model(model, info.pad_id)
    if active:
        t0 = time.perf_counter()
        with torch.inference_mode():
            logits = runner.forward([seqs[i].prompt_ids + take(seqs[i]) for i in active])
        stats.prefill_s += time.perf_counter() - t0
        stats.forward_passes += 1

    while active:
        sampling = [row for row, i in enumerate(active) if not seqs[i]._queue]
        round_new: list[tuple[int, list[int]]] = []
        if sampling:
            t0 = time.perf_counter()
            rows_logits = logits[sampling]
            if rows_logits.shape[1] > vocab:
                rows_logits[:, vocab:] = float("-inf")  # embedding rows with no token behind them
            constrained = [k for k, row in enumerate(sampling) if seqs[active[row]].matcher is not None]
            if constrained:
                seq_ids = [active[sampling[k]] for k in constrained]
                for i in seq_ids:
                    seqs[i].matcher.fill_bitmask(bitmask[i])  # type: ignore[union-attr]
                allowed = _unpack(bitmask[seq_ids], vocab) & text_allowed
                for k, i in enumerate(seq_ids):
                    if seqs[i].matcher.is_accepting():  # type: ignore[union-attr]
                        allowed[k, stop_ids] = True
                    if not bool(allowed[k].any()):
                        text = info.decode_bytes(seqs[i].token_ids).decode("utf-8", "replace")
                        raise DecodingError(
                            f"sequence {i}: the grammar allows no token after {text!r} "
                            "(dead end: the tokenizer cannot spell what the grammar requires)"
                        )
                masked = rows_logits[constrained, :vocab].masked_fill(~allowed, float("-inf"))
                rows_logits[constrained, :vocab] = masked
            stats.mask_s += time.perf_counter() - t0
            for k, row in enumerate(sampling):
                seq = seqs[active[row]]
                token = _sample(rows_logits[k], temperature, top_p, seq._generator)
                new = _after_token(seq, token, tokenizer, info, max_new_tokens, fast_forward)
                if new:
                    round_new.append((active[row], new))
        if round_new:
            yield round_new
        still = [row for row, i in enumerate(active) if seqs[i].finish is None]
        if not still:
            break
        if len(still) < len(active):
            runner.keep(still)
            active = [active[row] for row in still]
            logits = logits[still]
        t0 = time.perf_counter()
        with torch.inference_mode():
            logits = runner.forward([take(seqs[i]) for i in active])
        stats.forward_s += time.perf_counter() - t0
        stats.forward_passes += 1
    stats.total_s += time.perf_counter() - start


def decode(model: Any, tokenizer: Any, info: TokenizerInfo, seqs: list[Sequence], **kwargs: Any) -> DecodeStats:
    """Run :func:`iter_decode` to the end; results are left in ``seqs``."""
    stats = DecodeStats()
    for _ in iter_decode(model, tokenizer, info, seqs, stats=stats, **kwargs):
        pass
    return stats
