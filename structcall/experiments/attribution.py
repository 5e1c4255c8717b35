"""How much of a treatment's gain over a baseline is format? Computed on call items only.

With ``A(x, r)`` the accuracy of arm ``x`` under regime ``r`` (mean over seeds and call items)
and the regimes free, repaired (free + deterministic repair) and constrained:

    gain_r           = A(T, r) - A(B, r)                          for r in free, repaired, constrained
    format share     = (gain_free - gain_constrained) / gain_free  (what the mask makes up for)
    repair share     = (gain_free - gain_repaired) / gain_free     (what a deterministic repair makes up for)
    rest             = gain_constrained / gain_free                (what no grammar gives)

Under ``tool_choice="auto"`` the mask cannot change the call/no-call decision, so the
decision is reported apart (hit and false-alarm rates, d', criterion; see
:func:`structcall.experiments.evaluation.decision_metrics`) and no-call items never enter the shares.

Intervals: a hierarchical bootstrap, paired. Each resample draws seeds with replacement, then
for every drawn seed draws items with replacement, and applies the same draw to every arm and
regime (a DPO student of seed s starts from the SFT student of seed s). Percentile 95%
intervals. A share is printed only where the free-decoding gain's interval excludes zero;
elsewhere the result is "no gain to attribute" and the share is withheld (None).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["matrix", "attribute", "constraint_effects", "bootstrap_ci", "difference", "COMPARISONS", "ATTRIBUTION_REGIMES"]

# (treatment, baseline): the headline comparison first
COMPARISONS = [("dpo", "sft"), ("dpo", "sft_control"), ("dpo_format", "sft"), ("dpo_semantic", "sft"),
               ("sft_control", "sft")]
ATTRIBUTION_REGIMES = ("free", "repaired", "constrained")


def matrix(rows: list[dict], arm: str, regime: str, items: list[str], seeds: list[int], metric: str = "ast") -> np.ndarray:
    """``seeds x items`` 0/1 matrix of ``metric`` for one arm and regime (missing -> error)."""
    index = {(r["seed"], r["item"]): r for r in rows if r["arm"] == arm and r["regime"] == regime}
    out = np.zeros((len(seeds), len(items)))
    for i, s in enumerate(seeds):
        for j, it in enumerate(items):
            r = index.get((s, it))
            if r is None:
                raise KeyError(f"no result for arm={arm} regime={regime} seed={s} item={it}")
            out[i, j] = float(bool(r[metric]))
    return out


def _draws(n_seeds: int, n_items: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeds ``(B, S)`` and, within each drawn seed, items ``(B, S, I)`` (hierarchical)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_seeds, (n_boot, n_seeds)), rng.integers(0, n_items, (n_boot, n_seeds, n_items))


def _resampled_means(m: np.ndarray, si: np.ndarray, ii: np.ndarray) -> np.ndarray:
    """Mean of ``m[si[b, s], ii[b, s, :]]`` over s and items, for every resample b."""
    return m[si[:, :, None], ii].mean(axis=(1, 2))


def bootstrap_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None, float]:
    """Percentile interval over the finite samples, and the fraction that were not finite."""
    finite = samples[np.isfinite(samples)]
    undefined = 1.0 - finite.size / samples.size if samples.size else 1.0
    if finite.size == 0:
        return None, None, undefined
    a = (1 - level) / 2
    return float(np.quantile(finite, a)), float(np.quantile(finite, 1 - a)), undefined


def _cell(est: float | None, samples: np.ndarray) -> dict:
    lo, hi, undefined = bootstrap_ci(samples)
    return {"estimate": est, "lo": lo, "hi": hi, "undefined_fraction": round(undefined, 4)}


def _excludes_zero(cell: dict) -> bool:
    return cell["lo"] is not None and (cell["lo"] > 0 or cell["hi"] < 0)


def difference(a: np.ndarray, b: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """``mean(a) - mean(b)`` of two paired ``seeds x items`` matrices, with its interval."""
    si, ii = _draws(*a.shape, n_boot, seed)
    cell = _cell(float(a.mean() - b.mean()), _resampled_means(a, si, ii) - _resampled_means(b, si, ii))
    cell["significant"] = _excludes_zero(cell)
    return cell


def attribute(y: dict[tuple[str, str], np.ndarray], treat: str, base: str, *, n_boot: int = 1000, seed: int = 0,
              regimes: tuple[str, ...] = ATTRIBUTION_REGIMES) -> dict:
    """Attribution of ``treat``'s gain over ``base`` from ``{(arm, regime): seeds x items}`` matrices
    (call items). ``regimes`` must hold free and constrained; repaired is used when given."""
    keys = [(a, r) for r in regimes for a in (treat, base)]
    mats = {k: y[k] for k in keys}
    n_seeds, n_items = mats[(treat, "free")].shape
    if any(m.shape != (n_seeds, n_items) for m in mats.values()):
        raise ValueError(f"matrices must share one seeds x items shape, got {[m.shape for m in mats.values()]}")
    if n_items == 0:
        raise ValueError("no items to attribute")
    si, ii = _draws(n_seeds, n_items, n_boot, seed)
    acc = {k: float(m.mean()) for k, m in mats.items()}
    boot = {k: _resampled_means(m, si, ii) for k, m in mats.items()}
    gain = {r: acc[(treat, r)] - acc[(base, r)] for r in regimes}
    bgain = {r: boot[(treat, r)] - boot[(base, r)] for r in regimes}
    out: dict[str, Any] = {
        "treatment": treat, "baseline": base, "n_items": n_items, "n_seeds": n_seeds,
        "accuracy": {f"{who}_{r}": acc[(a, r)] for r in regimes for who, a in (("treatment", treat), ("baseline", base))},
        **{f"gain_{r}": _cell(gain[r], bgain[r]) for r in regimes},
    }
    gf = gain["free"]
    attributable = _excludes_zero(out["gain_free"]) and gf > 0
    out["attributable"] = attributable
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = {"format_share": ("constrained", lambda g, c: (g - c) / g), "rest_share": ("constrained", lambda g, c: c / g)}
        if "repaired" in regimes:
            shares["repair_share"] = ("repaired", lambda g, c: (g - c) / g)
        for name, (r, f) in shares.items():
            samples = np.where(bgain["free"] != 0, f(bgain["free"], bgain[r]), np.nan)
            cell = _cell(f(gf, gain[r]) if gf != 0 else None, samples)
            if not attributable:
                cell.update(estimate=None, lo=None, hi=None)
            out[name] = cell
    lo, hi = out["gain_free"]["lo"], out["gain_free"]["hi"]
    if attributable:
        fs = out["format_share"]
        out["note"] = (f"{treat} gains {gf:+.3f} over {base} under free decoding [{lo:+.3f}, {hi:+.3f}] and "
                       f"{gain['constrained']:+.3f} under constraints: format share {fs['estimate']:.2f} "
                       f"[{fs['lo']:.2f}, {fs['hi']:.2f}]")
    else:
        out["note"] = (f"no gain to attribute: {treat} - {base} under free decoding is {gf:+.3f} "
                       f"[{lo:+.3f}, {hi:+.3f}]" + (", an interval that includes zero" if gf > 0 else ""))
    out["degenerate"] = not attributable
    return out


def constraint_effects(y: dict[tuple[str, str], np.ndarray], arm: str, *, regime: str = "constrained",
                       n_boot: int = 1000, seed: int = 0) -> dict:
    """``A(arm, regime) - A(arm, free)`` with a paired bootstrap interval."""
    cell = difference(y[(arm, regime)], y[(arm, "free")], n_boot=n_boot, seed=seed)
    cell["hurts"] = cell["estimate"] < 0
    return cell


def is_finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
