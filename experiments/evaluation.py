"""Evaluation: every student in two decoding regimes (free, constrained), same prompts, same
settings, through ``structcall.generate_batch``; per-item rows and per-subtask metrics.

A per-item row: ``{"model", "arm", "seed", "regime", "item", "subtask", "text", "finish_reason",
"completion_tokens", "forced_tokens", "format_valid", "ast", "exec", "names", "label", "category",
"detail"}``. ``free`` is ``constrained=False`` (the same model, prompt and sampling, no mask;
output parsed and validated afterwards), ``constrained`` masks with the tools' grammar
(``tool_choice="auto"``, parallel calls allowed), so the only difference is the mask.
"""

from __future__ import annotations

import collections
from typing import Any, Iterable

from .progress import batches
from .verifier import LABELS, verify

__all__ = ["REGIMES", "evaluate_model", "metrics", "both_valid"]

REGIMES = ("free", "constrained")


def evaluate_model(model: Any, tokenizer: Any, examples: list[dict], *, regime: str, backend: str = "llguidance",
                   max_new_tokens: int = 96, batch_size: int = 32, temperature: float = 0.0, seed: int = 0,
                   fast_forward: bool = False,
                   execute: bool = True, progress: bool = True, desc: str = "eval", tags: dict | None = None) -> list[dict]:
    """Generate for every example in ``regime`` and score it; returns per-item rows."""
    from structcall.decoding import generate_batch

    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    rows: list[dict] = []
    requests = [{"messages": ex["messages"], "tools": ex["tools"]} for ex in examples]
    for start, chunk in batches(requests, size=max(batch_size * 2, 1), desc=desc, progress=progress):
        results = generate_batch(model, tokenizer, chunk, constrained=regime == "constrained", backend=backend,
                                 max_new_tokens=max_new_tokens, batch_size=batch_size, temperature=temperature,
                                 seed=seed + start, tool_choice="auto", parallel_tool_calls=True,
                                 fast_forward=fast_forward)
        for ex, r in zip(examples[start:start + len(chunk)], results):
            v = verify(r.text, ex, truncated=r.finish_reason == "length", execute=execute)
            rows.append({**(tags or {}), "regime": regime, "item": ex["id"], "subtask": ex["subtask"],
                         "text": r.text, "finish_reason": r.finish_reason,
                         "completion_tokens": r.completion_tokens, "forced_tokens": r.forced_tokens,
                         "format_valid": v.format_valid, "ast": v.ast_correct, "exec": v.exec_correct,
                         "names": v.names_correct,
                         "label": v.label, "category": v.category, "detail": v.detail})
    return rows


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(map(float, xs)) / len(xs) if xs else None


def _summary(rows: list[dict]) -> dict:
    valid = [r for r in rows if r["format_valid"]]
    labels = collections.Counter(r["label"] for r in rows if r["label"])
    return {
        "n": len(rows),
        "format_validity": _mean([r["format_valid"] for r in rows]),
        "ast_accuracy": _mean([r["ast"] for r in rows]),
        "exec_accuracy": _mean([r["exec"] for r in rows]),
        "name_accuracy": _mean([r.get("names") for r in rows]),
        "accuracy_when_valid": _mean([r["ast"] for r in valid]),
        "taxonomy": {label: labels.get(label, 0) for label in LABELS},
        "format_failures": sum(1 for r in rows if r["category"] == "format"),
        "semantic_failures": sum(1 for r in rows if r["category"] == "semantic"),
        "truncated": sum(1 for r in rows if r["finish_reason"] == "length"),
    }


def metrics(rows: Iterable[dict]) -> dict:
    """``{"overall": summary, "by_subtask": {subtask: summary}}`` over the given rows (all seeds pooled)."""
    rows = list(rows)
    by = collections.defaultdict(list)
    for r in rows:
        by[r["subtask"]].append(r)
    return {"overall": _summary(rows), "by_subtask": {k: _summary(v) for k, v in sorted(by.items())}}


def both_valid(rows_a: list[dict], rows_b: list[dict]) -> dict:
    """Accuracy of A and B on the items (paired by seed and item) where both are format-valid."""
    key = lambda r: (r.get("seed"), r["item"])  # noqa: E731
    b = {key(r): r for r in rows_b}
    pairs = [(r, b[key(r)]) for r in rows_a if key(r) in b and r["format_valid"] and b[key(r)]["format_valid"]]
    return {"n": len(pairs), "a": _mean([p[0]["ast"] for p in pairs]), "b": _mean([p[1]["ast"] for p in pairs])}
