"""Teachers and datasets: oracle negatives carry the labels they claim; datasets are in TRL's
formats, matched in size across the DPO arms, and never train SFT on a rejected response."""

from __future__ import annotations

import collections
import json

import pytest

from experiments.data import build_datasets, load_dataset_dir, save_datasets
from experiments.tasks import ToolTasks
from experiments.teacher import is_correct, model_candidates, oracle_candidates
from experiments.verifier import FORMAT_LABELS, SEMANTIC_LABELS, verify


@pytest.fixture(scope="module")
def examples():
    return list(ToolTasks("train", 96))


@pytest.fixture(scope="module")
def candidates(examples):
    return [c for ex in examples for c in oracle_candidates(ex, negatives_per_category=2, seed=0)]


def test_oracle_gold_is_correct_and_negatives_are_labelled(examples, candidates):
    by_id = {ex["id"]: ex for ex in examples}
    labels = collections.Counter()
    for c in candidates:
        ex = by_id[c["id"]]
        v = verify(c["text"], ex).as_dict()
        assert v == c["verdict"]  # the stored label is the verifier's
        if c["source"] == "oracle:gold":
            assert c["text"] == ex["target"] and is_correct(v)
        else:
            assert c["text"] != ex["target"] and v["label"] is not None
            labels[v["label"]] += 1
    # every failure kind of the taxonomy is produced somewhere
    assert set(labels) == set(FORMAT_LABELS) | set(SEMANTIC_LABELS)


def test_oracle_is_deterministic(examples):
    ex = examples[3]
    assert oracle_candidates(ex, seed=1) == oracle_candidates(ex, seed=1)


def test_datasets_are_trl_shaped_matched_and_clean(examples, candidates):
    sets, stats = build_datasets(examples, candidates, pairs_per_prompt=2, seed=0)
    n = stats["matched_pairs"]
    assert n == min(stats["pair_pool"].values()) > 0
    assert len(sets["dpo_format"]) == len(sets["dpo_semantic"]) == len(sets["dpo_mixed"]) == len(sets["sft_control"]) == n
    assert {r["category"] for r in sets["dpo_format"]} == {"format"}
    assert {r["category"] for r in sets["dpo_semantic"]} == {"semantic"}
    mixed = collections.Counter(r["category"] for r in sets["dpo_mixed"])
    assert abs(mixed["format"] - mixed["semantic"]) <= 1
    by_id = {ex["id"]: ex for ex in examples}
    for r in sets["sft"]:
        assert r["messages"][-1]["role"] == "assistant" and json.loads(r["tools"]) == by_id[r["id"]]["tools"]
        assert verify(r["messages"][-1]["content"], by_id[r["id"]]).ast_correct
    for r in sets["dpo_mixed"]:
        assert r["prompt"] == by_id[r["id"]]["messages"]
        assert verify(r["chosen"][0]["content"], by_id[r["id"]]).ast_correct
        assert not verify(r["rejected"][0]["content"], by_id[r["id"]]).ast_correct
    # the control trains on exactly the mixed arm's chosen responses
    assert [r["messages"][-1] for r in sets["sft_control"]] == [r["chosen"][0] for r in sets["dpo_mixed"]]
    targets = {(r["id"], r["messages"][-1]["content"]) for k in ("sft", "sft_control") for r in sets[k]}
    rejected = {(r["id"], r["rejected"][0]["content"]) for k in ("dpo_format", "dpo_semantic", "dpo_mixed") for r in sets[k]}
    assert not targets & rejected
    again, _ = build_datasets(examples, candidates, pairs_per_prompt=2, seed=0)
    assert again == sets


def test_max_pairs_caps_every_arm(examples, candidates):
    sets, stats = build_datasets(examples, candidates, max_pairs=10)
    assert stats["matched_pairs"] == 10 and all(len(sets[k]) == 10 for k in ("dpo_format", "dpo_semantic", "dpo_mixed"))


def test_save_and_load_with_provenance(tmp_path, examples, candidates):
    sets, stats = build_datasets(examples, candidates)
    save_datasets(sets, tmp_path, {"stats": stats, "teacher": "oracle"})
    ds = load_dataset_dir(tmp_path, "dpo_mixed")
    assert len(ds) == len(sets["dpo_mixed"]) and set(ds.column_names) >= {"prompt", "chosen", "rejected", "tools"}
    sft = load_dataset_dir(tmp_path, "sft")
    assert sft[0]["messages"][-1]["content"] == sets["sft"][0]["messages"][-1]["content"]
    assert json.loads((tmp_path / "provenance.json").read_text())["stats"]["matched_pairs"] == stats["matched_pairs"]
    with pytest.raises(FileNotFoundError, match="no rows"):
        load_dataset_dir(tmp_path, "nothing")


def test_candidates_for_unknown_examples_are_rejected(examples):
    with pytest.raises(ValueError, match="unknown example"):
        build_datasets(examples[:1], [{"id": "nope", "text": "", "verdict": {}}])


def test_model_teacher_samples_k_labelled_candidates(examples):
    from structcall.models import build_tiny_model

    from experiments.models import train_task_tokenizer
    from experiments.stages import render

    tok = train_task_tokenizer([render(e["messages"], e["tools"], completion=e["target"]) for e in examples], vocab_size=600)
    model = build_tiny_model(tok, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                             intermediate_size=64, seed=0)
    picked = examples[:3]
    cands = model_candidates(model, tok, picked, k=2, temperature=1.0, max_new_tokens=12, batch_size=6, progress=False)
    assert [c["id"] for c in cands] == [e["id"] for e in picked for _ in range(2)]
    for c in cands:
        assert c["source"] == "model" and set(c["verdict"]) >= {"label", "format_valid", "ast_correct"}
        # a random model's short samples are not correct answers
        assert not is_correct(c["verdict"])
