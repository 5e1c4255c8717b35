"""How much of DPO's gain is format? Paired bootstrap over items and seeds.

With ``A(x, r)`` the accuracy of arm ``x`` under regime ``r`` (mean over seeds and items):

    gain_free        = A(DPO, free)        - A(SFT, free)
    gain_constrained = A(DPO, constrained) - A(SFT, constrained)
    format share     = (gain_free - gain_constrained) / gain_free
    reasoning share  = gain_constrained / gain_free

Constrained decoding removes format failures, so what of DPO's free-decoding gain survives
under constraints is gain on something a grammar cannot give (reasoning); the rest was format.

Confidence intervals: each bootstrap resample draws items (with replacement) and seeds (with
replacement) once and applies the same draw to every arm and regime, so the comparison stays
paired (a DPO student of seed s starts from the SFT student of seed s). Percentile 95%
intervals. A share is undefined in a resample whose ``gain_free`` is 0; its interval is taken
over the resamples where it is defined, and the undefined fraction is reported.

A setting is *degenerate* when there is no gain to attribute: the ``gain_free`` interval
contains zero (or the estimate is not positive). Shares are then reported but flagged as
not identifiable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["matrix", "attribute", "constraint_effects", "bootstrap_ci", "COMPARISONS"]

# (treatment, baseline): the headline comparison first
COMPARISONS = [("dpo_mixed", "sft"), ("dpo_format", "sft"), ("dpo_semantic", "sft"), ("sft_control", "sft"),
               ("dpo_mixed", "sft_control")]


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
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_seeds, (n_boot, n_seeds)), rng.integers(0, n_items, (n_boot, n_items))


def _resampled_means(m: np.ndarray, si: np.ndarray, ii: np.ndarray) -> np.ndarray:
    """Mean of ``m[si[b]][:, ii[b]]`` for every resample b (vectorised)."""
    # mean over the chosen seed rows and item columns = mean_s mean_i m[s, i]
    per_seed = np.stack([m[:, ii[b]].mean(axis=1) for b in range(ii.shape[0])])  # (B, n_seeds)
    return np.take_along_axis(per_seed, si, axis=1).mean(axis=1)


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


def _share(num: float, den: float) -> float | None:
    return num / den if den != 0 else None


def attribute(y: dict[tuple[str, str], np.ndarray], treat: str, base: str, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Attribution of ``treat``'s gain over ``base`` from ``{(arm, regime): seeds x items}`` matrices."""
    keys = [(treat, "free"), (base, "free"), (treat, "constrained"), (base, "constrained")]
    mats = [y[k] for k in keys]
    n_seeds, n_items = mats[0].shape
    if any(m.shape != (n_seeds, n_items) for m in mats):
        raise ValueError(f"matrices must share one seeds x items shape, got {[m.shape for m in mats]}")
    if n_items == 0:
        raise ValueError("no items to attribute")
    a = [float(m.mean()) for m in mats]
    gf, gc = a[0] - a[1], a[2] - a[3]
    si, ii = _draws(n_seeds, n_items, n_boot, seed)
    bs = [_resampled_means(m, si, ii) for m in mats]
    bgf, bgc = bs[0] - bs[1], bs[2] - bs[3]
    with np.errstate(divide="ignore", invalid="ignore"):
        bfmt = np.where(bgf != 0, (bgf - bgc) / bgf, np.nan)
        brea = np.where(bgf != 0, bgc / bgf, np.nan)
    out = {
        "treatment": treat, "baseline": base, "n_items": n_items, "n_seeds": n_seeds,
        "accuracy": {"treatment_free": a[0], "baseline_free": a[1], "treatment_constrained": a[2],
                     "baseline_constrained": a[3]},
        "gain_free": _cell(gf, bgf), "gain_constrained": _cell(gc, bgc),
        "format_share": _cell(_share(gf - gc, gf), bfmt), "reasoning_share": _cell(_share(gc, gf), brea),
    }
    lo, hi = out["gain_free"]["lo"], out["gain_free"]["hi"]
    spans = lo is not None and lo <= 0 <= hi
    out["degenerate"] = bool(gf <= 0 or spans)
    if gf <= 0:
        out["note"] = (f"no gain to attribute: {treat} is not better than {base} under free decoding "
                       f"({gf:+.3f}); the shares are not meaningful")
    elif spans:
        out["note"] = (f"degenerate: the free-decoding gain {gf:+.3f} has a 95% interval [{lo:+.3f}, {hi:+.3f}] "
                       "that spans zero, so there is no reliable gain to split into format and reasoning")
    else:
        fs = out["format_share"]["estimate"]
        out["note"] = (f"{treat} gains {gf:+.3f} over {base} under free decoding and {gc:+.3f} under constraints: "
                       f"format share {fs:.2f}, reasoning share {1 - fs:.2f}")
    return out


def constraint_effects(y: dict[tuple[str, str], np.ndarray], arm: str, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """``A(arm, constrained) - A(arm, free)`` with a paired bootstrap interval."""
    f, c = y[(arm, "free")], y[(arm, "constrained")]
    si, ii = _draws(*f.shape, n_boot, seed)
    d = _resampled_means(c, si, ii) - _resampled_means(f, si, ii)
    est = float(c.mean() - f.mean())
    cell = _cell(est, d)
    cell["hurts"] = est < 0
    cell["significant"] = cell["hi"] is not None and (cell["hi"] < 0 or cell["lo"] > 0)
    return cell


def is_finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
