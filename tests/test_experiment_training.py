"""Training on text rows: full fine-tuning and LoRA (merged on save) on a tiny real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from structcall.experiments.data import minimal_pairs, target_text
from structcall.experiments.models import build_tiny, load_causal_lm, save_model, train_task_tokenizer
from structcall.experiments.stages import render, text_rows
from structcall.experiments.tasks import ToolTasks
from structcall.experiments.training import TrainSettings, train_dpo, train_sft


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import Dataset

    ex = list(ToolTasks("train", 24))
    tok = train_task_tokenizer([render(e["messages"], e["tools"], completion=e["target"]) for e in ex], vocab_size=600)
    base = save_model(build_tiny(tok, hidden_size=32, num_hidden_layers=1, intermediate_size=64), tok,
                      tmp_path_factory.mktemp("base"))
    sft = Dataset.from_list([{"messages": e["messages"] + [{"role": "assistant", "content": target_text(e, "hermes")}],
                              "tools": __import__("json").dumps(e["tools"])} for e in ex[:8]])
    pairs = Dataset.from_list(minimal_pairs(ex, "hermes", max_pairs=4)[0])
    return base, sft, pairs


def flat(model):
    import torch

    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_text_rows_use_the_prompt_generate_batch_decodes_from(setup):
    from structcall.compile import compile_tools
    from structcall.decoding.prompt import render_prompt

    base, sft, pairs = setup
    _, tok = load_causal_lm(str(base))
    rows = text_rows(sft, tok, "hermes")
    grammar = compile_tools(__import__("json").loads(sft[0]["tools"]), format="hermes")
    assert rows[0]["prompt"] == render_prompt(tok, sft[0]["messages"][:-1], grammar)
    assert rows[0]["prompt"].endswith("<|im_start|>assistant\n") and rows[0]["completion"].startswith("<tool_call>")
    prow = text_rows(pairs, tok, "hermes")[0]
    assert set(prow) == {"prompt", "chosen", "rejected"} and prow["chosen"] != prow["rejected"]


@pytest.mark.parametrize("lora_r", [0, 4])
def test_sft_then_dpo_move_the_weights_and_save_an_ordinary_model(setup, tmp_path, lora_r):
    base, sft, pairs = setup
    model, tok = load_causal_lm(str(base))
    before = flat(model)
    s = TrainSettings(epochs=1, batch_size=4, learning_rate=1e-2, lora_r=lora_r, lora_alpha=8, save_steps=100)
    out = train_sft(model, tok, text_rows(sft, tok, "hermes"), tmp_path / "sft", s, progress=False)
    m2, tok2 = load_causal_lm(str(out))
    assert type(m2).__name__ == "LlamaForCausalLM" and flat(m2).shape == before.shape  # LoRA merged, no adapters
    assert (flat(m2) - before).norm() > 0
    ref = None if lora_r else load_causal_lm(str(out))[0]
    out2 = train_dpo(m2, ref, tok2, text_rows(pairs, tok2, "hermes"), tmp_path / "dpo",
                     TrainSettings(max_steps=2, batch_size=2, learning_rate=1e-2, lora_r=lora_r, lora_alpha=8,
                                   save_steps=100), progress=False)
    m3, _ = load_causal_lm(str(out2))
    assert flat(m3).shape == before.shape and (flat(m3) - flat(load_causal_lm(str(out))[0])).norm() > 0


def test_an_interrupted_evaluation_resumes_at_its_last_whole_chunk(setup, tmp_path):
    """Rows are appended chunk by chunk; a torn partial file resumes at its last whole chunk and
    the regime's rows equal an uninterrupted evaluation's (same per-chunk seeds); a partial file
    of other items is not reused."""
    import json
    from types import SimpleNamespace

    from structcall.experiments.config import EvalSection
    from structcall.experiments.stages import _eval_regime

    base, _, _ = setup
    model, tok = load_causal_lm(str(base))
    examples = [{**e, "suite": "own"} for e in ToolTasks("eval", 10)]
    logs: list[str] = []
    run = SimpleNamespace(cfg=SimpleNamespace(eval=EvalSection(batch_size=2, max_new_tokens=12, temperature=1.0,
                                                                bfcl_per_category=0),
                                              format="hermes"),
                          progress=False, log=logs.append)
    tags = {"arm": "sft", "seed": 3, "model": str(base)}
    whole = _eval_regime(run, model, tok, examples, "free", tmp_path / "a.partial.jsonl", tags=tags, seed=3, desc="a")
    assert [r["item"] for r in whole] == [e["id"] for e in examples]
    assert len((tmp_path / "a.partial.jsonl").read_text().splitlines()) == 10
    from structcall.experiments.evaluation import evaluate_model

    direct = evaluate_model(model, tok, examples, regime="free", batch_size=2, max_new_tokens=12, temperature=1.0,
                            seed=3, format="hermes", progress=False)
    assert [r["text"] for r in whole] == [r["text"] for r in direct]  # chunking changes no sample

    # interrupted after 6 rows (one whole chunk of 4, then 2 rows of the next) and a torn line
    lines = (tmp_path / "a.partial.jsonl").read_text().splitlines()
    torn = tmp_path / "b.partial.jsonl"
    torn.write_text("\n".join(lines[:6]) + "\n" + lines[6][:20])
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[6][:20])
    logs.clear()
    resumed = _eval_regime(run, model, tok, examples, "free", torn, tags=tags, seed=3, desc="b")
    assert any("resuming after 4 of 10" in m for m in logs), logs
    assert [r["text"] for r in resumed] == [r["text"] for r in whole]

    # a partial file written for other items (or another model) starts the regime again
    other = tmp_path / "c.partial.jsonl"
    other.write_text("\n".join(lines[:4]) + "\n")
    logs.clear()
    again = _eval_regime(run, model, tok, examples[::-1], "free", other, tags=tags, seed=3, desc="c")
    assert any("does not match" in m for m in logs) and [r["item"] for r in again] == [e["id"] for e in examples[::-1]]


def test_costs_times_full_and_lora_training_per_unit(setup, capsys, monkeypatch):
    """`python -m structcall.experiments.costs` on a real tiny model: per-unit wall and CPU seconds
    for both variants, and both ratios printed (CPU is the one to read on a shared core)."""
    import sys

    from structcall.experiments import costs

    base, _, _ = setup
    monkeypatch.setattr(sys, "argv", ["costs", "--model", str(base), "--examples", "4", "--pairs", "2",
                                      "--lora-r", "4", "--batch-size", "2"])
    costs.main()
    out = capsys.readouterr().out
    res = json.loads(out[:out.index("\n}\n") + 2])
    for name in ("full", "lora_r4"):
        assert set(res[name]) == {"sft_wall_s_per_example", "sft_cpu_s_per_example", "dpo_wall_s_per_pair",
                                  "dpo_cpu_s_per_pair"}
        assert all(v > 0 for v in res[name].values())
    assert "LoRA / full, wall: SFT x" in out and "LoRA / full, CPU: SFT x" in out
