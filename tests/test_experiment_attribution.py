"""Attribution and paired-bootstrap maths on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.attribution import attribute, bootstrap_ci, constraint_effects, matrix
from experiments.evaluation import both_valid, metrics


def y_const(tf, bf, tc, bc, shape=(3, 10)):
    return {("dpo", "free"): np.full(shape, tf), ("sft", "free"): np.full(shape, bf),
            ("dpo", "constrained"): np.full(shape, tc), ("sft", "constrained"): np.full(shape, bc)}


def test_formulas_on_known_accuracies():
    out = attribute(y_const(0.8, 0.5, 0.9, 0.8), "dpo", "sft", n_boot=200)
    assert out["gain_free"]["estimate"] == pytest.approx(0.3)
    assert out["gain_constrained"]["estimate"] == pytest.approx(0.1)
    assert out["format_share"]["estimate"] == pytest.approx(2 / 3)
    assert out["reasoning_share"]["estimate"] == pytest.approx(1 / 3)
    # constant matrices: every resample gives the same numbers
    assert out["gain_free"]["lo"] == pytest.approx(0.3) and out["gain_free"]["hi"] == pytest.approx(0.3)
    assert out["format_share"]["lo"] == pytest.approx(2 / 3)
    assert out["degenerate"] is False and "format share 0.67" in out["note"]


def test_all_gain_survives_constraints_means_reasoning():
    out = attribute(y_const(0.7, 0.4, 0.9, 0.6), "dpo", "sft", n_boot=50)
    assert out["format_share"]["estimate"] == pytest.approx(0.0, abs=1e-12)
    assert out["reasoning_share"]["estimate"] == pytest.approx(1.0)


def test_no_gain_is_degenerate_and_said_plainly():
    out = attribute(y_const(0.5, 0.5, 0.6, 0.6), "dpo", "sft", n_boot=50)
    assert out["degenerate"] and out["format_share"]["estimate"] is None
    assert out["format_share"]["undefined_fraction"] == 1.0
    assert out["note"].startswith("no gain to attribute")


def test_paired_bootstrap_detects_a_small_consistent_gain():
    rng = np.random.default_rng(1)
    base = (rng.random((3, 300)) < 0.5).astype(float)
    treat = base.copy()
    flip = (base == 0) & (rng.random(base.shape) < 0.25)  # the same items improve
    treat[flip] = 1
    y = {("dpo", "free"): treat, ("sft", "free"): base, ("dpo", "constrained"): treat, ("sft", "constrained"): base}
    out = attribute(y, "dpo", "sft", n_boot=1000, seed=0)
    g = out["gain_free"]
    assert g["lo"] > 0 and g["lo"] <= g["estimate"] <= g["hi"]
    # paired: tighter than resampling the two arms independently
    from experiments.attribution import _draws, _resampled_means
    d1, d2 = _draws(3, 300, 1000, 7), _draws(3, 300, 1000, 8)
    unpaired = _resampled_means(treat, *d1) - _resampled_means(base, *d2)
    assert g["hi"] - g["lo"] < np.quantile(unpaired, 0.975) - np.quantile(unpaired, 0.025)
    assert not out["degenerate"]


def test_noise_only_difference_spans_zero_and_is_flagged():
    rng = np.random.default_rng(2)
    a = (rng.random((3, 40)) < 0.5).astype(float)
    b = (rng.random((3, 40)) < 0.5).astype(float)
    y = {("dpo", "free"): a, ("sft", "free"): b, ("dpo", "constrained"): a, ("sft", "constrained"): b}
    out = attribute(y, "dpo", "sft", n_boot=500)
    if out["gain_free"]["estimate"] > 0:
        assert out["gain_free"]["lo"] <= 0 <= out["gain_free"]["hi"]
    assert out["degenerate"]


def test_bootstrap_ci_ignores_undefined_samples():
    lo, hi, undefined = bootstrap_ci(np.array([np.nan, 1.0, 2.0, 3.0, np.nan]))
    assert undefined == pytest.approx(0.4) and 1.0 <= lo <= hi <= 3.0
    assert bootstrap_ci(np.array([np.nan])) == (None, None, 1.0)


def test_constraint_effects_report_harm():
    y = y_const(0.8, 0.5, 0.6, 0.5)
    cell = constraint_effects(y, "dpo", n_boot=50)
    assert cell["estimate"] == pytest.approx(-0.2) and cell["hurts"] and cell["significant"]
    assert not constraint_effects(y, "sft", n_boot=50)["hurts"]


def rows(arm, regime, seed, values, valid=None):
    return [{"arm": arm, "regime": regime, "seed": seed, "item": f"i{j}", "subtask": "parallel" if j % 2 else "nested",
             "ast": bool(v), "exec": bool(v), "format_valid": bool(valid[j]) if valid else True,
             "label": None if v else "wrong_value", "category": None if v else "semantic", "finish_reason": "stop"}
            for j, v in enumerate(values)]


def test_matrix_and_metrics_from_rows():
    r = rows("sft", "free", 0, [1, 0, 1, 1]) + rows("sft", "free", 1, [0, 0, 1, 1])
    m = matrix(r, "sft", "free", [f"i{j}" for j in range(4)], [0, 1])
    assert m.tolist() == [[1, 0, 1, 1], [0, 0, 1, 1]]
    with pytest.raises(KeyError, match="seed=2"):
        matrix(r, "sft", "free", ["i0"], [2])
    met = metrics(r)
    assert met["overall"]["ast_accuracy"] == pytest.approx(5 / 8)
    assert met["by_subtask"]["parallel"]["ast_accuracy"] == pytest.approx(2 / 4)
    assert met["by_subtask"]["nested"]["ast_accuracy"] == pytest.approx(3 / 4)
    assert met["overall"]["taxonomy"]["wrong_value"] == 3


def test_accuracy_when_valid_and_on_both_valid_items():
    a = rows("sft", "free", 0, [1, 0, 0, 1], valid=[1, 0, 1, 1])
    b = rows("dpo", "free", 0, [1, 1, 0, 0], valid=[1, 1, 1, 0])
    assert metrics(a)["overall"]["accuracy_when_valid"] == pytest.approx(2 / 3)
    bv = both_valid(a, b)
    assert bv == {"n": 2, "a": 0.5, "b": 0.5}
