"""Configs: presets load, YAML over defaults, --set over YAML, clear errors naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from structcall.experiments.config import (ConfigError, ExperimentConfig, config_path, digest, load_config,
                                           packaged_configs, to_dict)

CONFIGS = Path(__file__).resolve().parents[1] / "structcall" / "experiments" / "configs"


def test_presets_load():
    tiny = load_config(CONFIGS / "tiny.yaml")
    assert tiny.name == "tiny" and len(tiny.seeds) >= 3 and tiny.student.is_tiny and tiny.teacher.kind == "model"
    assert tiny.teacher.model.source == "student-base" and tiny.teacher.sft.epochs > 0  # longer-trained teacher
    smol = load_config(CONFIGS / "smol.yaml")
    assert smol.student.source == "smollm2" and smol.teacher.kind == "oracle"
    pilot = load_config(CONFIGS / "pilot.yaml")
    assert pilot.student.source == "smollm2" and pilot.format == "smollm2" and pilot.seeds == (0,)
    assert set(pilot.arms) == {"sft", "sft_control", "dpo", "dpo_format", "dpo_semantic"} and pilot.eval.bfcl_per_category > 0


def test_every_preset_runs_one_torch_thread_per_process(tmp_path):
    """Two torch threads on a busy 2-core machine ran the tiny pretraining 10x slower than one."""
    import torch

    from structcall.experiments.pipeline import Run

    for name in ("tiny", "smol", "pilot"):
        assert load_config(CONFIGS / f"{name}.yaml").threads == 1, name
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        Run(load_config(CONFIGS / "tiny.yaml"), tmp_path, progress=False, log=lambda m: None, reuse_only=True)
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        Run(load_config(CONFIGS / "tiny.yaml", ["threads=0"]), tmp_path, progress=False, log=lambda m: None,
            reuse_only=True)
        assert torch.get_num_threads() == 2  # 0 leaves torch's setting alone
    finally:
        torch.set_num_threads(before)


def test_packaged_configs_load_by_name(tmp_path, monkeypatch, capsys):
    assert packaged_configs() == sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert {"tiny", "pilot", "smol"} <= set(packaged_configs())
    assert config_path("tiny").resolve() == (CONFIGS / "tiny.yaml").resolve()
    assert to_dict(load_config("pilot", ["seeds=[3]"])) == to_dict(load_config(CONFIGS / "pilot.yaml", ["seeds=[3]"]))
    listed = f"(packaged: {', '.join(packaged_configs())})"
    with pytest.raises(ConfigError, match=re.escape(f"tinny is neither a file nor a packaged config {listed}; "
                                                    "did you mean 'tiny'?")):
        load_config("tinny")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").write_text("name: mine\n")
    assert load_config("tiny").name == "mine"  # a file of that name comes first
    from structcall.experiments.cli import main

    assert main(["experiment", "run", "--config", "pilott", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"pilott is neither a file nor a packaged config {listed}; did you mean 'pilot'?" in err


def test_bad_arms_and_bfcl_categories_are_named():
    with pytest.raises(ConfigError, match="'sft_control' trains on the on-policy DPO arm"):
        load_config(CONFIGS / "tiny.yaml", ["arms=[sft,sft_control]"])
    with pytest.raises(ConfigError, match="eval.bfcl_categories: unknown BFCL category 'simpel'"):
        load_config(CONFIGS / "tiny.yaml", ["eval.bfcl_categories=[simpel]"])


def test_overrides_beat_yaml_and_nested_sections_merge():
    cfg = load_config(CONFIGS / "tiny.yaml", ["sft.learning_rate=1e-4", "seeds=[4,5,6]", "teacher.sft.epochs=7"])
    assert cfg.sft.learning_rate == 1e-4 and cfg.seeds == (4, 5, 6)
    assert cfg.teacher.sft.epochs == 7 and cfg.teacher.sft.batch_size == 8  # rest of the section from YAML
    assert cfg.sft.batch_size == 4  # untouched keys keep the YAML value


def test_unknown_keys_suggest_the_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'sft.learning_rat'; did you mean 'learning_rate'"):
        load_config(None, ["sft.learning_rat=1"])
    with pytest.raises(ConfigError, match=r"eval.bootstrap: expected int"):
        load_config(None, ["eval.bootstrap=many"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nseeds: [0, 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="arms"):
        load_config(None, ["arms=[dpo_mixed]"])
    with pytest.raises(ConfigError, match="teacher.kind"):
        load_config(None, ["teacher.kind=human"])
    with pytest.raises(ConfigError, match="student-base"):
        load_config(CONFIGS / "smol.yaml", ["teacher.kind=model", "teacher.model.source=student-base"])
    with pytest.raises(ConfigError, match="KEY=VALUE|section.key=value"):
        load_config(None, ["sft"])


def test_digest_is_stable_and_sensitive():
    a, b = ExperimentConfig(), ExperimentConfig()
    assert digest("x", a.sft) == digest("x", b.sft)
    changed = load_config(None, ["sft.epochs=9"])
    assert digest("x", changed.sft) != digest("x", a.sft)
    assert digest("x", changed.dpo) == digest("x", a.dpo)
    assert to_dict(a)["sft"]["epochs"] == a.sft.epochs
