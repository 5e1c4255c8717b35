"""Teachers and datasets: oracle negatives carry the labels they claim; datasets are in TRL's
formats, matched in size across the DPO arms, and never train SFT on a rejected response."""

from __future__ import annotations

import collections
import json

import pytest

from structcall.experiments.data import (build_datasets, check_no_rejected_targets, control_rows, load_dataset_dir, minimal_pairs,
                                         onpolicy_pairs, pair_audit, save_datasets, target_text)
from structcall.experiments.tasks import ToolTasks
from structcall.experiments.teacher import is_correct, model_candidates, oracle_candidates
from structcall.experiments.verifier import LABELS, verify


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
        v = verify(c["text"], ex, format="hermes").as_dict()
        assert v == c["verdict"]  # the stored label is the verifier's
        if c["source"] == "oracle:gold":
            assert c["text"] == ex["target"] and is_correct(v)
        else:
            assert c["text"] != ex["target"] and v["label"] is not None
            labels[v["label"]] += 1
    # every label except the absent tool (no slip makes one) is produced somewhere
    assert set(labels) == set(LABELS) - {"absent_tool"}


def test_oracle_is_deterministic(examples):
    ex = examples[3]
    assert oracle_candidates(ex, seed=1) == oracle_candidates(ex, seed=1)


def test_minimal_pairs_share_prompts_and_chosen_and_differ_by_one_family(examples):
    fmt_rows, sem_rows = minimal_pairs(examples, "hermes", seed=0)
    assert len(fmt_rows) == len(sem_rows) > 20
    by_id = {ex["id"]: ex for ex in examples}
    for f, s in zip(fmt_rows, sem_rows):
        assert (f["id"], f["prompt"], f["chosen"]) == (s["id"], s["prompt"], s["chosen"])
        ex = by_id[f["id"]]
        assert ex["expect"] == "call" and verify(f["chosen"][0]["content"], ex, format="hermes").ast_correct
        vf, vs = verify(f["rejected"][0]["content"], ex, format="hermes"), verify(s["rejected"][0]["content"], ex, format="hermes")
        assert vf.families == {"format"} and f["families"] == ["format"]
        assert vs.families == {"semantic"} and s["families"] == ["semantic"]
    # several kinds of edit, not one
    assert len({lab for r in fmt_rows for lab in r["labels"]}) >= 3
    assert {lab for r in sem_rows for lab in r["labels"]} == {"wrong_tool", "wrong_value"}
    capped = minimal_pairs(examples, "hermes", max_pairs=7, seed=0)
    assert len(capped[0]) == len(capped[1]) == 7 and [r["id"] for r in capped[0]] == [r["id"] for r in capped[1]]


def test_a_smollm2_run_writes_and_scores_in_smollm2(examples):
    """The pilot's format: the oracle's gold and both sides of the minimal pairs are SmolLM2 text
    (a JSON list in one <tool_call> block), scored by parsing them as SmolLM2."""
    for ex in [e for e in examples if e["expect"] == "call"][:12]:
        (gold,) = oracle_candidates(ex, seed=0, fmt="smollm2")
        assert gold["text"] == target_text(ex, "smollm2") != ex["target"]
        assert gold["text"].startswith("<tool_call>[") and is_correct(gold["verdict"])
        assert gold["verdict"] == verify(gold["text"], ex, format="smollm2").as_dict()
    fmt_rows, sem_rows = minimal_pairs(examples, "smollm2", seed=0)
    assert len(fmt_rows) == len(sem_rows) > 20
    by_id = {ex["id"]: ex for ex in examples}
    for f, s in zip(fmt_rows, sem_rows):
        ex = by_id[f["id"]]
        assert f["chosen"][0]["content"] == target_text(ex, "smollm2")
        assert verify(f["chosen"][0]["content"], ex, format="smollm2").ast_correct
        vf = verify(f["rejected"][0]["content"], ex, format="smollm2")
        vs = verify(s["rejected"][0]["content"], ex, format="smollm2")
        assert vf.families == {"format"} and vs.families == {"semantic"}


def sample(ex, text):
    return {"id": ex["id"], "text": text, "source": "model", "verdict": verify(text, ex, format="hermes").as_dict()}


def test_onpolicy_pairs_take_real_mistakes_and_a_correct_chosen_side(examples):
    call_ex = next(e for e in examples if e["expect"] == "call")
    nocall_ex = next(e for e in examples if e["expect"] == "no_call")
    samples = [sample(call_ex, call_ex["target"]), sample(call_ex, "I cannot do that."),
               sample(call_ex, call_ex["target"][:-3]), sample(call_ex, call_ex["target"][:-3]),  # the same mistake twice
               sample(nocall_ex, call_ex["target"]), sample(nocall_ex, call_ex["target"] + "x")]
    pairs = onpolicy_pairs(examples, samples, "hermes", pairs_per_prompt=2)
    on_call = [p for p in pairs if p["id"] == call_ex["id"]]
    assert len(on_call) == 2 and {p["chosen_source"] for p in on_call} == {"student"}
    assert [p["labels"] for p in on_call] == [["text_not_call"], ["unparseable"]]
    # no correct sample for the no-call prompt: the gold answer is the chosen side
    on_none = [p for p in pairs if p["id"] == nocall_ex["id"]]
    assert {p["chosen_source"] for p in on_none} == {"gold"} and on_none[0]["chosen"][0]["content"] == nocall_ex["target"]
    assert "decision" in on_none[0]["families"]
    audit = pair_audit(pairs)
    assert audit["call_prompts"] == 2 and audit["no_call_prompts"] == 2 and audit["families"]["decision"] >= 2
    # the control trains on exactly the chosen sides, and never on a rejected one
    control = control_rows(pairs)
    assert [r["messages"][-1] for r in control] == [p["chosen"][0] for p in pairs]
    check_no_rejected_targets({"sft_control": control, "dpo": pairs})
    with pytest.raises(AssertionError, match="rejected responses are also SFT targets"):
        check_no_rejected_targets({"sft_control": [{"id": pairs[0]["id"], "messages": pairs[0]["rejected"]}], "dpo": pairs})


def test_datasets_are_clean_and_deterministic(examples, candidates):
    sets, stats = build_datasets(examples, candidates, seed=0)
    by_id = {ex["id"]: ex for ex in examples}
    for r in sets["sft"]:
        assert r["messages"][-1]["role"] == "assistant" and json.loads(r["tools"]) == by_id[r["id"]]["tools"]
        assert verify(r["messages"][-1]["content"], by_id[r["id"]], format="hermes").ast_correct
    assert stats["rows"]["dpo_format"] == stats["rows"]["dpo_semantic"] > 0
    assert stats["audit"]["dpo_format"]["families"] == {"format": stats["rows"]["dpo_format"]}
    again, _ = build_datasets(examples, candidates, seed=0)
    assert again == sets


def test_save_and_load_with_provenance(tmp_path, examples, candidates):
    sets, stats = build_datasets(examples, candidates)
    save_datasets(sets, tmp_path, {"stats": stats, "teacher": "oracle"})
    ds = load_dataset_dir(tmp_path, "dpo_format")
    assert len(ds) == len(sets["dpo_format"]) and set(ds.column_names) >= {"prompt", "chosen", "rejected", "tools"}
    sft = load_dataset_dir(tmp_path, "sft")
    assert sft[0]["messages"][-1]["content"] == sets["sft"][0]["messages"][-1]["content"]
    assert json.loads((tmp_path / "provenance.json").read_text())["stats"]["rows"] == stats["rows"]
    with pytest.raises(FileNotFoundError, match="no rows"):
        load_dataset_dir(tmp_path, "nothing")


def test_candidates_for_unknown_examples_are_rejected(examples):
    with pytest.raises(ValueError, match="unknown example"):
        build_datasets(examples[:1], [{"id": "nope", "text": "", "verdict": {}}])
    with pytest.raises(ValueError, match="unknown example"):
        onpolicy_pairs(examples[:1], [{"id": "nope", "text": "", "verdict": {}}], "hermes")


def test_model_teacher_samples_k_labelled_candidates(examples):
    from structcall.models import build_tiny_model

    from structcall.experiments.models import train_task_tokenizer
    from structcall.experiments.stages import render

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


def test_a_no_call_gold_is_the_formats_own_no_call_where_it_has_one(examples):
    """SmolLM2's format writes "no call" as an empty list; Hermes has no such form, so its gold
    stays the task's text refusal. Both are scored as a correct abstention."""
    nocall = [e for e in examples if e["expect"] == "no_call"][:5]
    answer = [e for e in examples if e["expect"] == "answer"][:3]
    assert nocall and answer
    for ex in nocall:
        assert target_text(ex, "smollm2") == "<tool_call>[]</tool_call>"
        assert target_text(ex, "hermes") == ex["target"]
        for fmt in ("smollm2", "hermes"):
            v = verify(target_text(ex, fmt), ex, format=fmt)
            assert v.ast_correct and v.decision == "text", (fmt, v)
    for ex in answer:  # a reply to a tool result stays text in every format
        assert target_text(ex, "smollm2") == ex["target"]
