"""Evaluation: every student in three regimes, same prompts and settings, through
``structcall.generate_batch``; per-item rows and per-subtask metrics.

* ``free``: ``constrained=False`` (the same model, prompt and sampling, no mask; the output is
  parsed and validated afterwards);
* ``repaired``: the free output after the deterministic repair (structcall's lenient parser and
  the nearest in-context tool name; see :mod:`structcall.experiments.verifier`), scored, never regenerated;
* ``constrained``: the grammar mask of the tools (``tool_choice="auto"``, parallel calls
  allowed), so the only difference from ``free`` is the mask.

A per-item row: ``{"model", "arm", "seed", "regime", "suite", "item", "subtask", "expect", "text",
"finish_reason", "completion_tokens", "forced_tokens", "format_valid", "ast", "exec", "names",
"decision", "label", "category", "labels", "families", "repairable", "detail"}``.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Iterable

from .progress import batches
from .verifier import LABELS, verify

__all__ = ["REGIMES", "DECODED", "evaluate_model", "score", "rescore", "metrics", "decision_metrics"]

REGIMES = ("free", "repaired", "constrained")
DECODED = ("free", "constrained")


def score(text: str, ex: dict, *, finish_reason: str | None, fmt: str, execute: bool = True) -> dict:
    """The scored fields of one output."""
    v = verify(text, ex, truncated=finish_reason == "length", execute=execute, format=fmt)
    return {"format_valid": v.format_valid, "ast": v.ast_correct, "exec": v.exec_correct, "names": v.names_correct,
            "decision": v.decision, "label": v.label, "category": v.category,
            "labels": [e["label"] for e in v.errors], "families": sorted(v.families),
            "repairable": v.repairable, "repaired_ast": v.repaired_correct, "repaired_valid": v.repaired_valid,
            "detail": v.detail}


def evaluate_model(model: Any, tokenizer: Any, examples: list[dict], *, regime: str, format: str,
                   backend: str = "llguidance", max_new_tokens: int = 96, batch_size: int = 32,
                   temperature: float = 0.0, seed: int = 0, fast_forward: bool = False, execute: bool = True,
                   progress: bool = True, desc: str = "eval", tags: dict | None = None) -> list[dict]:
    """Generate for every example in ``regime`` (free or constrained) in output ``format`` (the
    format the model was trained to write; the constrained regime enforces it) and score it;
    returns per-item rows."""
    from structcall.decoding import generate_batch

    if regime not in DECODED:
        raise ValueError(f"regime must be one of {DECODED} (the repaired regime is scored from free outputs), got {regime!r}")
    rows: list[dict] = []
    requests = [{"messages": ex["messages"], "tools": ex["tools"]} for ex in examples]
    for start, chunk in batches(requests, size=max(batch_size * 2, 1), desc=desc, progress=progress):
        results = generate_batch(model, tokenizer, chunk, constrained=regime == "constrained", backend=backend,
                                 max_new_tokens=max_new_tokens, batch_size=batch_size, temperature=temperature,
                                 seed=seed + start, tool_choice="auto", parallel_tool_calls=True,
                                 fast_forward=fast_forward, format=format)
        for ex, r in zip(examples[start:start + len(chunk)], results):
            rows.append({**(tags or {}), "regime": regime, "suite": ex.get("suite", "own"), "item": ex["id"],
                         "subtask": ex["subtask"], "expect": ex["expect"], "text": r.text,
                         "finish_reason": r.finish_reason, "completion_tokens": r.completion_tokens,
                         "forced_tokens": r.forced_tokens,
                         **score(r.text, ex, finish_reason=r.finish_reason, fmt=format,
                                 execute=execute and ex.get("suite", "own") == "own")})
    return rows


def rescore(rows: list[dict], items: list[dict], fmt: str) -> list[dict]:
    """Score stored outputs again with the current verifier, and add the ``repaired`` regime
    (a copy of each free row scored after the repair)."""
    by = {(ex.get("suite", "own"), ex["id"]): ex for ex in items}
    out = []
    for r in rows:
        suite = r.get("suite", "own")
        ex = by.get((suite, r["item"]))
        if ex is None:
            raise KeyError(f"no eval item {r['item']!r} in suite {suite!r} for a stored output")
        r = {**r, "suite": suite, "expect": ex["expect"],
             **score(r["text"], ex, finish_reason=r["finish_reason"], fmt=fmt, execute=suite == "own")}
        out.append(r)
        if r["regime"] == "free":
            out.append({**r, "regime": "repaired", "ast": r["repaired_ast"], "format_valid": r["repaired_valid"],
                        "exec": None})
    return out


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(map(float, xs)) / len(xs) if xs else None


def _summary(rows: list[dict]) -> dict:
    """Validity x accuracy-when-valid (call items: a valid *call*), valid-but-wrong, the taxonomy (every label)."""
    calls = [r for r in rows if r["expect"] == "call"]
    valid_calls = [r for r in calls if r["format_valid"] and r["decision"] == "call"]
    labels = collections.Counter(lab for r in rows for lab in r.get("labels", []))
    families = collections.Counter(f for r in rows for f in r.get("families", []))
    return {
        "n": len(rows), "n_call": len(calls),
        "accuracy": _mean([r["ast"] for r in rows]),
        "call_accuracy": _mean([r["ast"] for r in calls]),
        "validity": _mean([r["format_valid"] and r["decision"] == "call" for r in calls]),
        "accuracy_when_valid": _mean([r["ast"] for r in valid_calls]),
        "valid_but_wrong": _mean([not r["ast"] for r in valid_calls]),
        "format_failure_rate": _mean(["format" in r.get("families", []) for r in calls]),
        "repairable_rate": _mean([r.get("repairable", False) for r in calls]),
        "exec_accuracy": _mean([r["exec"] for r in rows]),
        "name_accuracy": _mean([r.get("names") for r in rows]),
        "taxonomy": {label: labels.get(label, 0) for label in LABELS},
        "families": dict(families),
        "truncated": sum(1 for r in rows if r["finish_reason"] == "length"),
    }


def metrics(rows: Iterable[dict]) -> dict:
    """``{"overall": summary, "by_subtask": {subtask: summary}}`` over the given rows (all seeds pooled)."""
    rows = list(rows)
    by = collections.defaultdict(list)
    for r in rows:
        by[r["subtask"]].append(r)
    return {"overall": _summary(rows), "by_subtask": {k: _summary(v) for k, v in sorted(by.items())}}


def _z(p: float) -> float:
    """Inverse standard normal CDF."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def decision_metrics(rows: Iterable[dict]) -> dict:
    """The call/no-call decision as a detection problem: a "call" decision on a call item is a hit,
    on a no-call item a false alarm. Rates use the log-linear correction ((k + 0.5) / (n + 1)) for
    d' and the criterion c; AUC of one operating point = Phi(d' / sqrt 2)."""
    from statistics import NormalDist

    rows = list(rows)
    call = [r for r in rows if r["expect"] == "call"]
    none = [r for r in rows if r["expect"] != "call"]
    if not call or not none:
        return {"n_call": len(call), "n_no_call": len(none), "hit_rate": None, "false_alarm_rate": None,
                "d_prime": None, "criterion": None, "auc": None}
    hits = sum(r["decision"] == "call" for r in call)
    fas = sum(r["decision"] == "call" for r in none)
    h, f = (hits + 0.5) / (len(call) + 1), (fas + 0.5) / (len(none) + 1)
    d = _z(h) - _z(f)
    return {"n_call": len(call), "n_no_call": len(none), "hit_rate": hits / len(call), "false_alarm_rate": fas / len(none),
            "d_prime": d, "criterion": -(_z(h) + _z(f)) / 2, "auc": NormalDist().cdf(d / math.sqrt(2))}
