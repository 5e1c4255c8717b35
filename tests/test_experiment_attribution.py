"""Attribution, decision and hierarchical-bootstrap maths on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from structcall.experiments.attribution import _draws, _resampled_means, attribute, bootstrap_ci, constraint_effects, difference, matrix
from structcall.experiments.evaluation import decision_metrics, metrics


def y_const(tf, bf, tc, bc, tr=None, br=None, shape=(3, 10)):
    tr = tf if tr is None else tr
    br = bf if br is None else br
    return {("dpo", "free"): np.full(shape, tf), ("sft", "free"): np.full(shape, bf),
            ("dpo", "repaired"): np.full(shape, tr), ("sft", "repaired"): np.full(shape, br),
            ("dpo", "constrained"): np.full(shape, tc), ("sft", "constrained"): np.full(shape, bc)}


def test_formulas_on_known_accuracies():
    out = attribute(y_const(0.8, 0.5, 0.9, 0.8, tr=0.85, br=0.65), "dpo", "sft", n_boot=200)
    assert out["gain_free"]["estimate"] == pytest.approx(0.3)
    assert out["gain_repaired"]["estimate"] == pytest.approx(0.2)
    assert out["gain_constrained"]["estimate"] == pytest.approx(0.1)
    assert out["format_share"]["estimate"] == pytest.approx(2 / 3)
    assert out["repair_share"]["estimate"] == pytest.approx(1 / 3)
    assert out["rest_share"]["estimate"] == pytest.approx(1 / 3)
    # constant matrices: every resample gives the same numbers
    assert out["gain_free"]["lo"] == pytest.approx(0.3) and out["gain_free"]["hi"] == pytest.approx(0.3)
    assert out["format_share"]["lo"] == pytest.approx(2 / 3)
    assert out["attributable"] and "format share 0.67" in out["note"]


def test_all_gain_survives_constraints_means_no_format_share():
    out = attribute(y_const(0.7, 0.4, 0.9, 0.6), "dpo", "sft", n_boot=50)
    assert out["format_share"]["estimate"] == pytest.approx(0.0, abs=1e-12)
    assert out["rest_share"]["estimate"] == pytest.approx(1.0)


def test_a_share_of_0_and_of_0_9_are_told_apart():
    rng = np.random.default_rng(3)
    base = (rng.random((3, 300)) < 0.3).astype(float)
    gain = np.where((base == 0) & (rng.random(base.shape) < 0.3), 1.0, base)  # DPO fixes ~21 pp of items
    # format share 0.9: constraints give SFT 90% of what DPO gained; 0: constraints change nothing
    constrained_sft = np.where((gain == 1) & (base == 0) & (rng.random(base.shape) < 0.9), 1.0, base)
    y9 = {("dpo", "free"): gain, ("sft", "free"): base, ("dpo", "constrained"): gain, ("sft", "constrained"): constrained_sft}
    y0 = {("dpo", "free"): gain, ("sft", "free"): base, ("dpo", "constrained"): gain, ("sft", "constrained"): base}
    a9 = attribute(y9, "dpo", "sft", n_boot=500, regimes=("free", "constrained"))
    a0 = attribute(y0, "dpo", "sft", n_boot=500, regimes=("free", "constrained"))
    assert a9["format_share"]["lo"] > 0.75 and a0["format_share"]["hi"] < 0.1


def test_no_gain_withholds_the_share_and_says_so():
    out = attribute(y_const(0.5, 0.5, 0.6, 0.6), "dpo", "sft", n_boot=50)
    assert not out["attributable"] and out["format_share"]["estimate"] is None
    assert out["note"].startswith("no gain to attribute")
    worse = attribute(y_const(0.4, 0.5, 0.6, 0.6), "dpo", "sft", n_boot=50)
    assert not worse["attributable"] and worse["repair_share"]["estimate"] is None


def test_noisy_gain_whose_interval_spans_zero_withholds_the_share():
    rng = np.random.default_rng(2)
    a = (rng.random((3, 40)) < 0.5).astype(float)
    b = (rng.random((3, 40)) < 0.5).astype(float)
    y = {("dpo", "free"): a, ("sft", "free"): b, ("dpo", "constrained"): a, ("sft", "constrained"): b}
    out = attribute(y, "dpo", "sft", n_boot=500, regimes=("free", "constrained"))
    assert out["gain_free"]["lo"] <= 0 <= out["gain_free"]["hi"]
    assert not out["attributable"] and out["format_share"]["estimate"] is None and "no gain to attribute" in out["note"]


def test_hierarchical_draws_resample_items_within_each_drawn_seed():
    si, ii = _draws(3, 50, 200, 0)
    assert si.shape == (200, 3) and ii.shape == (200, 3, 50)
    assert not np.array_equal(ii[:, 0], ii[:, 1])  # separate item draws per drawn seed
    m = np.arange(3 * 50, dtype=float).reshape(3, 50)
    b = 7
    expected = np.mean([m[si[b, s], ii[b, s]].mean() for s in range(3)])
    assert _resampled_means(m, si, ii)[b] == pytest.approx(expected)
    # seed-to-seed variation widens the interval beyond the item-only one
    noisy = np.stack([np.full(50, v) for v in (0.2, 0.5, 0.8)])
    flat = np.full((3, 50), 0.5)
    assert difference(noisy, flat, n_boot=300)["hi"] - difference(noisy, flat, n_boot=300)["lo"] > 0.2


def test_paired_bootstrap_detects_a_small_consistent_gain():
    rng = np.random.default_rng(1)
    base = (rng.random((3, 300)) < 0.5).astype(float)
    treat = base.copy()
    treat[(base == 0) & (rng.random(base.shape) < 0.25)] = 1  # the same items improve
    cell = difference(treat, base, n_boot=1000)
    assert cell["significant"] and cell["lo"] > 0
    d1, d2 = _draws(3, 300, 1000, 7), _draws(3, 300, 1000, 8)
    unpaired = _resampled_means(treat, *d1) - _resampled_means(base, *d2)
    assert cell["hi"] - cell["lo"] < np.quantile(unpaired, 0.975) - np.quantile(unpaired, 0.025)


def test_bootstrap_ci_ignores_undefined_samples():
    lo, hi, undefined = bootstrap_ci(np.array([np.nan, 1.0, 2.0, 3.0, np.nan]))
    assert undefined == pytest.approx(0.4) and 1.0 <= lo <= hi <= 3.0
    assert bootstrap_ci(np.array([np.nan])) == (None, None, 1.0)


def test_constraint_and_repair_effects_report_harm():
    y = y_const(0.8, 0.5, 0.6, 0.5, tr=0.9)
    cell = constraint_effects(y, "dpo", n_boot=50)
    assert cell["estimate"] == pytest.approx(-0.2) and cell["hurts"] and cell["significant"]
    rep = constraint_effects(y, "dpo", regime="repaired", n_boot=50)
    assert rep["estimate"] == pytest.approx(0.1) and not rep["hurts"]


def row(arm, seed, item, *, expect="call", ast=False, valid=True, decision="call", labels=(), families=()):
    return {"arm": arm, "regime": "free", "seed": seed, "item": item, "subtask": "parallel" if item[-1] in "13579" else "nested",
            "expect": expect, "ast": ast, "exec": ast, "names": ast, "format_valid": valid, "decision": decision,
            "labels": list(labels), "families": list(families), "repairable": False, "finish_reason": "stop"}


def test_validity_times_accuracy_when_valid_and_valid_but_wrong():
    rows = [row("sft", 0, "i0", ast=True), row("sft", 0, "i1"), row("sft", 0, "i2", valid=False, families=["format"]),
            row("sft", 0, "i3", decision="text", families=["decision"]),  # a valid text reply is not a valid call
            row("sft", 0, "n0", expect="no_call", ast=True, decision="text")]
    o = metrics(rows)["overall"]
    assert o["validity"] == pytest.approx(2 / 4) and o["accuracy_when_valid"] == pytest.approx(1 / 2)
    assert o["call_accuracy"] == pytest.approx(o["validity"] * o["accuracy_when_valid"])
    assert o["valid_but_wrong"] == pytest.approx(1 / 2) and o["format_failure_rate"] == pytest.approx(1 / 4)
    assert o["accuracy"] == pytest.approx(2 / 5)
    m = matrix(rows, "sft", "free", ["i0", "i1"], [0])
    assert m.tolist() == [[1.0, 0.0]]
    with pytest.raises(KeyError, match="seed=2"):
        matrix(rows, "sft", "free", ["i0"], [2])


def test_decision_metrics_on_known_counts():
    rows = ([row("a", 0, f"c{i}", decision="call") for i in range(8)] + [row("a", 0, f"t{i}", decision="text") for i in range(2)]
            + [row("a", 0, f"n{i}", expect="no_call", decision="call") for i in range(3)]
            + [row("a", 0, f"m{i}", expect="no_call", decision="text") for i in range(7)])
    d = decision_metrics(rows)
    assert (d["hit_rate"], d["false_alarm_rate"]) == (0.8, 0.3)
    from statistics import NormalDist

    z = NormalDist().inv_cdf
    h, f = 8.5 / 11, 3.5 / 11
    assert d["d_prime"] == pytest.approx(z(h) - z(f)) and d["criterion"] == pytest.approx(-(z(h) + z(f)) / 2)
    assert d["auc"] == pytest.approx(NormalDist().cdf(d["d_prime"] / math.sqrt(2)))
    # an always-call policy has no discrimination and a liberal criterion
    always = decision_metrics([row("a", 0, f"c{i}") for i in range(10)] +
                              [row("a", 0, f"n{i}", expect="no_call") for i in range(10)])
    assert always["d_prime"] == pytest.approx(0) and always["criterion"] < 0 and always["auc"] == pytest.approx(0.5)
    assert decision_metrics([row("a", 0, "c0")])["d_prime"] is None


def test_baselines_and_the_repaired_regime_from_stored_outputs():
    from structcall.experiments.data import target_text
    from structcall.experiments.evaluation import rescore
    from structcall.experiments.report import baseline_rows, power_gates
    from structcall.experiments.tasks import ToolTasks

    items = [{**ex, "suite": "own"} for ex in ToolTasks("eval", 16)]
    rows = baseline_rows(items, [0, 1], "hermes")
    assert len(rows) == 2 * 2 * 3 * 16
    text = [r for r in rows if r["arm"] == "always_text" and r["regime"] == "free" and r["seed"] == 0]
    assert all(r["ast"] == (r["subtask"] == "irrelevance") for r in text)  # answers need their facts
    assert all(r["labels"] == ["text_not_call"] for r in text if r["expect"] == "call")
    first = [r for r in rows if r["arm"] == "first_tool" and r["regime"] == "free" and r["seed"] == 0]
    assert all(r["decision"] == "call" and not r["ast"] for r in first)
    # stored free outputs: a misspelled gold answer is wrong as written and right once repaired
    call = next(ex for ex in items if ex["expect"] == "call" and len(ex["gold_calls"]) == 1)
    gold = target_text(call, "hermes")
    bad = gold.replace(call["gold_calls"][0]["name"], call["gold_calls"][0]["name"].replace("_", ""), 1)
    stored = [{"arm": "sft", "seed": 0, "regime": regime, "item": call["id"], "subtask": call["subtask"], "text": bad,
               "finish_reason": "stop"} for regime in ("free", "constrained")]
    out = rescore(stored, items, "hermes")
    by = {r["regime"]: r for r in out}
    assert set(by) == {"free", "repaired", "constrained"}
    assert (by["free"]["ast"], by["free"]["repairable"], by["repaired"]["ast"]) == (False, True, True)
    assert by["free"]["labels"] == ["misspelled_tool"]
    with pytest.raises(KeyError, match="no eval item"):
        rescore([{**stored[0], "item": "nope"}], items, "hermes")
    m = {"sft": {"free": {"overall": {"format_failure_rate": 0.3, "accuracy_when_valid": 0.1}}}}
    g = power_gates(m)
    assert g["format_failure_rate"]["pass"] and not g["accuracy_when_valid"]["pass"]


def test_a_resumed_stage_gives_no_per_unit_cost():
    """A stage resumed after an interruption is timed over its last attempt only: dividing that by
    all its units would understate the cost, so it is marked and gets no per-unit figure."""
    from types import SimpleNamespace

    from structcall.experiments.report import unit_costs

    rows = [{"arm": "sft", "seed": 0, "regime": r, "item": i} for r in ("free", "constrained", "repaired") for i in range(5)]
    cfg = SimpleNamespace(sft=SimpleNamespace(epochs=1.0))
    fresh = unit_costs({"eval/sft-s0": {"wall_s": 20.0, "cpu_s": 10.0}}, {}, rows, cfg)
    assert fresh["eval/sft-s0"] == {"unit": "item x regime", "units": 10, "wall_s_per_unit": 2.0, "cpu_s_per_unit": 1.0}
    resumed = unit_costs({"eval/sft-s0": {"wall_s": 20.0, "cpu_s": 10.0, "resumed": True}}, {}, rows, cfg)
    assert resumed["eval/sft-s0"]["wall_s_per_unit"] is None and resumed["eval/sft-s0"]["resumed"]
