"""The decoding loop for Hugging Face causal LMs: batched, KV-cached, grammar-masked.

Every sequence has its own matcher (or none, for unconstrained decoding). Each round, a
sequence whose model input is up to date picks one token under its mask. Where the grammar
then forces text (envelope, keys, the rest of a tool name), that text becomes a *draft*: it is
tokenized together with the tail of what the model already wrote (token healing), so the
draft is what the model's tokenizer would produce for the whole output, and only tokens that
start exactly where the model's text ends are drafted (when the joint tokenization merges
across that boundary, nothing is drafted and the model picks the boundary-crossing token).

Drafted tokens are fed in the same multi-token forward pass as the token before them
("fast-forward"), and the model checks every one of them from the logits that pass returns:
at each drafted position it picks its own token under the grammar's mask there, exactly as
step-by-step decoding would (same mask, same sampler, same random draws). A drafted token is
kept only if the model picks it; at the first disagreement the model's token replaces it and
the rest of the draft is dropped (the dropped positions become masked holes in the KV cache),
including at the end of the forced text, where the model may pick a token whose bytes run
past it. So fast-forward changes how many forward passes decoding takes, never what is
decoded: the output equals ``fast_forward="off"`` for greedy and for seeded sampling, up to
floating-point differences between multi-token and one-token forward passes. The one
exception is forced text that ends the grammar: it is appended unchecked (the text is the
same whichever tokens spell it).

Sequences in a batch feed different numbers of tokens; shorter feeds are left-padded inside
the chunk and masked out, so the KV cache holds masked holes but every row's last position is
real. The grammar never includes EOS: a stop token is allowed exactly when the matcher is
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

__all__ = ["DecodeStats", "Sequence", "decode", "draft_tokens", "iter_decode"]

FastForward = Literal["chunk", "stepwise", "off"]

#: tokens of already-written text re-tokenized together with forced text (token healing)
HEAL_TOKENS = 8


@dataclass
class Sequence:
    """One sequence to decode, and (after decoding) what came out."""

    prompt_ids: list[int]
    matcher: Matcher | None = None
    seed: int | None = None
    #: the output tokens (only tokens the model has picked or confirmed; drafts are separate)
    token_ids: list[int] = field(default_factory=list)
    #: output tokens that were drafted from forced text and confirmed in a multi-token pass
    forced: int = 0
    #: drafted tokens the model rejected (each replaced by the model's own token)
    rejected: int = 0
    #: "grammar" (grammar complete), "eos" (stop token sampled) or "length" (max_new_tokens)
    finish: str | None = None
    _draft: list[int] = field(default_factory=list, repr=False)
    _draft_masks: list[tuple[np.ndarray, bool]] = field(default_factory=list, repr=False)
    _fed: int = field(default=0, repr=False)  # tokens of token_ids + _draft given to the model
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


def _heal_context(ids: list[int], info: TokenizerInfo) -> list[int]:
    """The last :data:`HEAL_TOKENS` of ``ids`` after any special token, starting on a
    character boundary."""
    tail = ids[-HEAL_TOKENS:]
    for k in range(len(tail) - 1, -1, -1):
        if tail[k] in info.special_ids or tail[k] >= info.vocab_size:
            tail = tail[k + 1:]
            break
    while tail and (info.token_bytes[tail[0]][:1] or b"\x00")[0] & 0xC0 == 0x80:
        tail = tail[1:]  # starts inside a character
    return tail


def draft_tokens(tokenizer: Any, info: TokenizerInfo, context: list[int], forced: bytes) -> list[int]:
    """The tokens the tokenizer would write for ``forced`` right after the tokens ``context``.

    ``forced`` (its longest valid UTF-8 prefix) is tokenized together with the text of the
    last few context tokens, and the tokens that start exactly where the context ends are
    returned. When the joint tokenization has a token that crosses that point, the answer is
    ``[]``: the model, not the draft, picks the token that spans the boundary. Tokens after
    the first one that spells different bytes than ``forced`` (a normalizing tokenizer) are
    dropped.
    """
    text = _valid_utf8_prefix(forced)
    if not text:
        return []
    tail = _heal_context(context, info)
    head = info.decode_bytes(tail)
    try:
        head_text = head.decode("utf-8")
    except UnicodeDecodeError:
        head, head_text = b"", ""
    ids = tokenizer.encode(head_text + text, add_special_tokens=False)
    want = text.encode("utf-8")
    pos, start = 0, None
    for k, t in enumerate(ids):
        if pos == len(head):
            start = k
            break
        if pos > len(head) or t >= info.vocab_size:
            return []
        pos += len(info.token_bytes[t])
    if start is None:
        return []
    out: list[int] = []
    at = 0
    for t in ids[start:]:
        piece = info.token_bytes[t] if t < info.vocab_size else b""
        if not piece or want[at:at + len(piece)] != piece:
            break
        out.append(t)
        at += len(piece)
    return out


def _draft(seq: Sequence, tokenizer: Any, info: TokenizerInfo, budget: int) -> None:
    """Draft the forced text after ``seq``'s output (consumed by the matcher, with the mask at
    each drafted position kept for the model's check). Forced text that ends the grammar is
    committed at once."""
    matcher = seq.matcher
    assert matcher is not None and not seq._draft
    if budget <= 0:
        return
    ids = draft_tokens(tokenizer, info, seq.prompt_ids + seq.token_ids, matcher.forced_bytes())
    words = (info.vocab_size + 31) // 32
    for token in ids[:budget]:
        if not info.text_allowed[token]:
            break
        bits = np.zeros(words, dtype=np.int32)
        matcher.fill_bitmask(bits)
        accepting = matcher.is_accepting()
        if matcher.consume([token]) != 1:
            break
        seq._draft.append(token)
        seq._draft_masks.append((bits, accepting))
        if matcher.is_terminated():
            break
    if seq._draft and matcher.is_terminated():
        seq.token_ids += seq._draft
        seq.forced += len(seq._draft)
        seq._draft, seq._draft_masks = [], []


def _commit(seq: Sequence, token: int, tokenizer: Any, info: TokenizerInfo,
            max_new_tokens: int, fast_forward: FastForward) -> None:
    """Append the model's token, then draft any forced text after it."""
    if token in info.stop_ids:
        seq.finish = "eos"
        return
    if seq.matcher is not None and seq.matcher.consume([token]) != 1:
        raise DecodingError(f"the matcher rejected token {token} that its own mask allowed")
    seq.token_ids.append(token)
    _settle(seq, tokenizer, info, max_new_tokens, fast_forward)


def _settle(seq: Sequence, tokenizer: Any, info: TokenizerInfo,
            max_new_tokens: int, fast_forward: FastForward) -> None:
    if seq.matcher is not None and not seq.matcher.is_terminated() and fast_forward != "off":
        _draft(seq, tokenizer, info, max_new_tokens - len(seq.token_ids))
    _check_finish(seq, max_new_tokens)


def _check_finish(seq: Sequence, max_new_tokens: int) -> None:
    if seq._draft or seq.finish is not None:
        return
    if seq.matcher is not None and seq.matcher.is_terminated():
        seq.finish = "grammar"
    elif len(seq.token_ids) >= max_new_tokens:
        seq.finish = "length"


class _Chooser:
    """The model's pick at one position: mask (grammar, text tokens, stop tokens when the
    output may end), then greedy or sampled."""

    def __init__(self, info: TokenizerInfo, temperature: float, top_p: float, stats: DecodeStats):
        self.info = info
        self.vocab = info.vocab_size
        self.text_allowed = torch.from_numpy(info.text_allowed)
        self.stop_ids = torch.tensor(info.stop_ids, dtype=torch.long)
        self.temperature, self.top_p, self.stats = temperature, top_p, stats
        self.bits = np.zeros((1, (self.vocab + 31) // 32), dtype=np.int32)

    def __call__(self, seq: Sequence, index: int, logits: torch.Tensor,
                 mask: tuple[np.ndarray, bool] | None) -> int:
        t0 = time.perf_counter()
        row = logits[: self.vocab].clone()  # embedding rows past the vocabulary never win
        if seq.matcher is not None:
            if mask is None:
                seq.matcher.fill_bitmask(self.bits[0])
                mask = (self.bits[0], seq.matcher.is_accepting())
            allowed = _unpack(mask[0][None, :], self.vocab)[0] & self.text_allowed
            if mask[1]:
                allowed[self.stop_ids] = True
            if not bool(allowed.any()):
                text = self.info.decode_bytes(seq.token_ids).decode("utf-8", "replace")
                raise DecodingError(
                    f"sequence {index}: the grammar allows no token after {text!r} "
                    "(dead end: the tokenizer cannot spell what the grammar requires)"
                )
            row.masked_fill_(~allowed, float("-inf"))
        self.stats.mask_s += time.perf_counter() - t0
        return _sample(row, self.temperature, self.top_p, seq._generator)


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

    def forward(self, feeds: list[list[int]], keep: int) -> torch.Tensor:
        """Feed each row its tokens; logits (rows, ``keep``, vocab) of the last ``keep`` positions."""
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
            kwargs["logits_to_keep"] = keep
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=self.attn.to(self.device),
                position_ids=positions.to(self.device),
                past_key_values=self.cache,
                use_cache=True,
                **kwargs,
            )
        self.cache = out.past_key_values
        return out.logits[:, -keep:, :].float().cpu()

    def drop_last(self, row: int, n: int) -> None:
        """Mask out the last ``n`` fed positions of ``row`` (rejected draft tokens)."""
        assert self.attn is not None
        if n:
            self.attn[row, -n:] = 0

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
    """Decode ``seqs`` in one batch; after every round yield ``[(seq_index, new_tokens), ...]``
    (only tokens the model has picked or confirmed: a draft is never yielded before its check).

    ``fast_forward``: ``"chunk"`` drafts forced text and feeds it in one multi-token forward
    pass with the token before it, the model confirming each drafted token from that pass's
    logits; ``"stepwise"`` drafts the same tokens but feeds them one pass each (a reference for
    the batching); ``"off"`` drafts nothing: one pass per token. All three decode the same
    output. ``temperature <= 0`` is greedy. Each sequence samples from its own
    ``torch.Generator`` seeded with ``Sequence.seed``.
    """
    if fast_forward not in ("chunk", "stepwise", "off"):
        raise ValueError(f"fast_forward must be 'chunk', 'stepwise' or 'off', not {fast_forward!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], not {top_p}")
    stats = stats if stats is not None else DecodeStats()
    start = time.perf_counter()
    choose = _Chooser(info, temperature, top_p, stats)

    first: list[tuple[int, list[int]]] = []
    for i, seq in enumerate(seqs):
        if not seq.prompt_ids:
            raise ValueError(f"sequence {i} has an empty prompt")
        if seq.seed is not None:
            seq._generator = torch.Generator().manual_seed(seq.seed)
        if max_new_tokens <= 0:
            seq.finish = "length"
            continue
        _settle(seq, tokenizer, info, max_new_tokens, fast_forward)
        if seq.token_ids:  # forced text that ends the grammar
            first.append((i, list(seq.token_ids)))
    if first:
        yield first

    def feed(seq: Sequence) -> list[int]:
        full = seq.token_ids + seq._draft
        end = len(full) if fast_forward == "chunk" else min(len(full), seq._fed + 1)
        out = full[seq._fed:end]
        seq._fed = end
        return out

    def decide(row: int, i: int, logits: torch.Tensor, runner: _Model) -> list[int]:
        """Check the row's fed drafts and pick its next token from this pass's logits."""
        seq, new = seqs[i], []
        while seq.finish is None:
            j = len(seq.token_ids)  # the position to decide; its logits come from position j - 1
            if j > seq._fed:
                break  # the token before it is not fed yet
            at = logits[row, logits.shape[1] - 1 - (seq._fed - j)]
            if seq._draft:
                token = choose(seq, i, at, seq._draft_masks[0])
                if token == seq._draft[0]:
                    seq.token_ids.append(seq._draft.pop(0))
                    seq._draft_masks.pop(0)
                    seq.forced += 1
                    new.append(token)
                    _check_finish(seq, max_new_tokens)
                    continue
                seq.rejected += len(seq._draft)
                seq.matcher.rollback(len(seq._draft))  # type: ignore[union-attr]
                runner.drop_last(row, seq._fed - j)
                seq._fed = j
                seq._draft, seq._draft_masks = [], []
            else:
                token = choose(seq, i, at, None)
            _commit(seq, token, tokenizer, info, max_new_tokens, fast_forward)
            if seq.finish != "eos":
                new.append(token)
                new += seq.token_ids[j + 1:]  # forced text that ended the grammar
        return new

    def keep_for(seq: Sequence) -> int:
        return seq._fed - len(seq.token_ids) + 1

    active = [i for i, s in enumerate(seqs) if s.finish is None]
    runner = _Model(model, info.pad_id)
    prefill = True
    while active:
        feeds = [(seqs[i].prompt_ids if prefill else []) + feed(seqs[i]) for i in active]
        keep = max(keep_for(seqs[i]) for i in active)
        t0 = time.perf_counter()
        logits = runner.forward(feeds, keep)
        if prefill:
            stats.prefill_s += time.perf_counter() - t0
        else:
            stats.forward_s += time.perf_counter() - t0
        stats.forward_passes += 1
        prefill = False
        round_new = []
        for row, i in enumerate(active):
            new = decide(row, i, logits, runner)
            if new:
                round_new.append((i, new))
        if round_new:
            yield round_new
        still = [row for row, i in enumerate(active) if seqs[i].finish is None]
        if len(still) < len(active):
            if still:
                runner.keep(still)
            active = [active[row] for row in still]
    stats.total_s += time.perf_counter() - start


def decode(model: Any, tokenizer: Any, info: TokenizerInfo, seqs: list[Sequence], **kwargs: Any) -> DecodeStats:
    """Run :func:`iter_decode` to the end; results are left in ``seqs``."""
    stats = DecodeStats()
    for _ in iter_decode(model, tokenizer, info, seqs, stats=stats, **kwargs):
        pass
    return stats
