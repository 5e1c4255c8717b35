"""Section 2: per-token mask time (p50, p99, max) per backend and vocabulary size.

Valid outputs are drawn from the grammar (``structcall.testing.sample``), tokenized the way
the model's tokenizer would (canonical tokens), and walked token by token through a matcher
from the backend's pool, exactly as the decoding loop gets them. Each step times
``Matcher.fill_bitmask`` (the allowed-token bitmask for the whole vocabulary), then
consumes the token. outlines' own per-token work is timed the same way: its Guide over the
index of the equivalent JSON schema, filled with ``outlines_core.kernels.torch
.fill_next_token_bitmask`` (what its logits processor calls for every sequence and step).

The bitmask fill is the part that grows with the vocabulary and the grammar; the rest of the
per-token masking (unpacking the bitmask, masking the logits) is in the end-to-end section's
``mask ms/token``.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, Callable

import numpy as np

from structcall.decoding import get_backend
from structcall.decoding.vocab import stop_token_ids, tokenizer_info
from structcall.testing import sample

from benchmarks.timing import summary

__all__ = ["bench_mask", "token_walks"]


def token_walks(grammar: Any, tokenizer: Any, *, samples: int, seed: int = 0, max_tokens: int = 400) -> list[list[int]]:
    """Canonical token ids of ``samples`` random valid outputs of ``grammar`` (non-empty ones)."""
    rng = random.Random(seed)
    walks: list[list[int]] = []
    tries = 0
    while len(walks) < samples and tries < samples * 20:
        tries += 1
        text = sample(grammar, rng)
        ids = tokenizer.encode(text, add_special_tokens=False)
        if ids:
            walks.append(ids[:max_tokens])
    return walks


def _walk_structcall(backend: Any, grammar: Any, walks: list[list[int]], words: int) -> tuple[list[list[float]], int]:
    """Fill times of every step, per walk (the first walk starts on a fresh matcher), and how
    many walks a mask cut short."""
    row = np.zeros(words, dtype=np.int32)
    per_walk: list[list[float]] = []
    rejected = 0
    for ids in walks:
        matcher = backend.matchers(grammar, 1)[0]
        times: list[float] = []
        per_walk.append(times)
        try:
            for token in ids:
                t0 = time.perf_counter()
                matcher.fill_bitmask(row)
                times.append(time.perf_counter() - t0)
                if not (row[token // 32] >> (token % 32)) & 1 or matcher.consume([token]) != 1:
                    rejected += 1
                    break
        finally:
            backend.release(grammar, [matcher])
    return per_walk, rejected


def _walk_outlines_own(index: Any, vocab_size: int, walks: list[list[int]]) -> tuple[list[list[float]], int]:
    from outlines_core import Guide
    from outlines_core.kernels.torch import allocate_token_bitmask, fill_next_token_bitmask

    mask = allocate_token_bitmask(vocab_size)
    per_walk: list[list[float]] = []
    rejected = 0
    for ids in walks:
        guide = Guide(index)
        times: list[float] = []
        per_walk.append(times)
        for token in ids:
            t0 = time.perf_counter()
            fill_next_token_bitmask(guide, mask)
            times.append(time.perf_counter() - t0)
            if not guide.accepts_tokens([token]):
                rejected += 1  # e.g. a \\u escape, which outlines' JSON regex does not allow
                break
            guide.advance(token_id=token, return_tokens=False)
    return per_walk, rejected


def _stats(per_walk: list[list[float]], rejected: int, n_walks: int) -> dict[str, Any]:
    """Summaries of the fill times of ``passes`` passes over the same ``n_walks`` walks.

    * p50/p99/max over every step of every pass, as measured;
    * ``first_s``: the very first mask (fresh grammar: lazy set-up costs land there);
    * ``p99_steady``: the p99 over steps of each step's fastest time in the warm passes (all
      but the first). On a shared machine a step that is preempted once reads as a spike;
      the fastest of several passes is the step's own cost.
    """
    flat = [t for walk in per_walk for t in walk]
    warm = per_walk[n_walks:]
    steady = []
    for k in range(n_walks):
        passes = [warm[j] for j in range(k, len(warm), n_walks)]
        for step in range(min((len(p) for p in passes), default=0)):
            steady.append(min(p[step] for p in passes))
    return {**summary(flat), "first_s": per_walk[0][0] if per_walk and per_walk[0] else None,
            "p99_steady": summary(steady)["p99"] if steady else None,
            "passes": len(per_walk) // max(n_walks, 1), "rejected_walks": rejected}


def bench_mask(
    tokenizers: dict[str, Any],
    grammars: dict[str, tuple[Any, list[str]]],
    *,
    samples: int,
    passes: int = 3,
    outlines_schema: dict | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """One row per (tokenizer, grammar, backend).

    ``grammars`` maps a label to ``(ToolGrammar, backends to run on it)``; ``outlines_schema``
    (the JSON schema equivalent to the first grammar) adds outlines' own row for it. Each set
    of ``samples`` walks is run ``passes`` times (at least 2: one cold, the rest warm).
    """
    if passes < 2:
        raise ValueError(f"passes must be at least 2 (one cold, one warm), got {passes}")
    from benchmarks.compile_bench import outlines_vocabulary

    rows: list[dict[str, Any]] = []
    for tok_name, tokenizer in tokenizers.items():
        stops = stop_token_ids(tokenizer)
        info = tokenizer_info(tokenizer, stops)
        words = (info.vocab_size + 31) // 32
        for i, (label, (grammar, backends)) in enumerate(grammars.items()):
            walks = token_walks(grammar, tokenizer, samples=samples, seed=i)
            n_tokens = sum(len(w) for w in walks)
            base = {"tokenizer": tok_name, "vocab": info.vocab_size, "grammar": label,
                    "walks": len(walks), "walk_tokens": n_tokens}
            for name in backends:
                be = get_backend(name, tokenizer, stop_ids=stops)
                be.compile(grammar)
                per_walk, rejected = _walk_structcall(be, grammar, walks * passes, words)
                rows.append({**base, "system": f"structcall + {name}",
                             **_stats(per_walk, rejected // passes, len(walks))})
                _log_row(log, tok_name, label, name, rows[-1])
            if i == 0 and outlines_schema is not None:
                from outlines_core import Index
                from outlines_core.json_schema import build_regex_from_schema

                index = Index(build_regex_from_schema(json.dumps(outlines_schema), None),
                              outlines_vocabulary(tokenizer))
                per_walk, rejected = _walk_outlines_own(index, len(tokenizer), walks * passes)
                rows.append({**base, "system": "outlines (own JSON schema)",
                             **_stats(per_walk, rejected // passes, len(walks))})
                _log_row(log, tok_name, label, "outlines own", rows[-1])
    return rows


def _log_row(log: Callable[[str], None], tok_name: str, label: str, name: str, row: dict[str, Any]) -> None:
    log(f"  mask {tok_name} {label}: {name:<12} p50 {row['p50'] * 1e6:.0f} us, p99 {row['p99'] * 1e6:.0f} us, "
        f"max {row['max'] * 1e6:.0f} us, first {row['first_s'] * 1e6:.0f} us, "
        f"p99 steady {row['p99_steady'] * 1e6:.0f} us "
        f"({row['n']} steps, {row['rejected_walks']} walks cut short)")
