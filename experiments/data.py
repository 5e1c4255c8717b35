"""Datasets from labelled teacher candidates, in TRL's formats, saved with their provenance.

* ``sft``: one verified-correct response per training prompt, conversational
  (``messages`` ending in the assistant turn, plus a ``tools`` column holding the OpenAI tool
  list as a JSON string, which TRL's SFT and DPO trainers decode).
* ``dpo_format`` / ``dpo_semantic`` / ``dpo_mixed``: ``prompt`` / ``chosen`` / ``rejected``
  (+ ``tools``), with rejected responses of format failures only, semantic failures only, or
  half and half, at one matched pair count.
* ``sft_control``: the chosen responses of ``dpo_mixed`` as SFT rows (the same extra steps on
  the same prompts, without the negatives).

Rejected responses are never SFT targets: a response is a rejected one only if the verifier
failed it, an SFT target only if the verifier passed it, and :func:`build_datasets` checks
that the two sets share no (prompt, text) pair.
"""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path
from typing import Any

from .teacher import is_correct

__all__ = ["build_datasets", "save_datasets", "load_dataset_dir", "ARM_DATA"]

# which dataset trains which arm (sft starts from the pretrained base; the others from sft)
ARM_DATA = {"sft": "sft", "sft_control": "sft_control", "dpo_mixed": "dpo_mixed",
            "dpo_format": "dpo_format", "dpo_semantic": "dpo_semantic"}


def _assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def build_datasets(examples: list[dict], candidates: list[dict], *, pairs_per_prompt: int = 2, max_pairs: int = 0,
                   seed: int = 0) -> tuple[dict[str, list[dict]], dict]:
    """Rows of every dataset, and statistics for the provenance file."""
    by_id = {ex["id"]: ex for ex in examples}
    grouped: dict[str, list[dict]] = collections.defaultdict(list)
    for c in candidates:
        if c["id"] not in by_id:
            raise ValueError(f"candidate for unknown example {c['id']!r}")
        grouped[c["id"]].append(c)
    rng = random.Random(f"pairs:{seed}")
    sft, pools = [], {"format": [], "semantic": []}
    labels = collections.Counter()
    for ex_id in sorted(grouped):
        ex, cands = by_id[ex_id], grouped[ex_id]
        source = {}
        for c in cands:
            if is_correct(c["verdict"]):
                source.setdefault(c["text"], c.get("source", "?"))
        good = list(source)
        bad: dict[str, list[tuple[str, str]]] = {"format": [], "semantic": []}
        seen = set()
        for c in cands:
            v = c["verdict"]
            labels[v["label"] or ("correct" if is_correct(v) else "ast_ok_exec_wrong")] += 1
            if v["label"] is not None and c["text"] not in seen:
                seen.add(c["text"])
                bad[v["category"]].append((c["text"], v["label"]))
        tools = json.dumps(ex["tools"])
        meta = {"id": ex_id, "subtask": ex["subtask"]}
        if good:
            sft.append({"messages": ex["messages"] + _assistant(good[0]), "tools": tools, "source": source[good[0]],
                        **meta})
            for category, rejected in bad.items():
                for i, (text, label) in enumerate(rejected[:pairs_per_prompt]):
                    chosen = good[i % len(good)]
                    pools[category].append({"prompt": ex["messages"], "chosen": _assistant(chosen),
                                            "rejected": _assistant(text), "tools": tools, "label": label,
                                            "category": category, "chosen_source": source[chosen], **meta})
    n = min(len(pools["format"]), len(pools["semantic"]))
    if max_pairs:
        n = min(n, max_pairs)
    sets: dict[str, list[dict]] = {"sft": sft}
    sets["dpo_format"] = rng.sample(pools["format"], n)
    sets["dpo_semantic"] = rng.sample(pools["semantic"], n)
    sets["dpo_mixed"] = rng.sample(pools["format"], n // 2) + rng.sample(pools["semantic"], n - n // 2)
    rng.shuffle(sets["dpo_mixed"])
    sets["sft_control"] = [{"messages": r["prompt"] + r["chosen"], "tools": r["tools"], "id": r["id"],
                            "subtask": r["subtask"], "source": r["chosen_source"]} for r in sets["dpo_mixed"]]
    _check_no_rejected_targets(sets)
    stats = {
        "prompts": len(examples), "prompts_with_candidates": len(grouped), "candidates": len(candidates),
        "candidate_labels": dict(labels), "prompts_with_a_correct_response": len(sft),
        "pair_pool": {k: len(v) for k, v in pools.items()}, "matched_pairs": n,
        "rows": {k: len(v) for k, v in sets.items()},
        "rejected_labels": {k: dict(collections.Counter(r["label"] for r in sets[k])) for k in ("dpo_format", "dpo_semantic", "dpo_mixed")},
        "sft_subtasks": dict(collections.Counter(r["subtask"] for r in sft)),
        "sft_sources": dict(collections.Counter(r["source"] for r in sft)),
        "chosen_sources": dict(collections.Counter(r["chosen_source"] for r in sets["dpo_mixed"])),
    }
    return sets, stats


def _check_no_rejected_targets(sets: dict[str, list[dict]]) -> None:
    targets = {(r["id"], r["messages"][-1]["content"]) for k in ("sft", "sft_control") for r in sets[k]}
    rejected = {(r["id"], r["rejected"][0]["content"]) for k in ("dpo_format", "dpo_semantic", "dpo_mixed") for r in sets[k]}
    both = targets & rejected
    if both:
        raise AssertionError(f"{len(both)} rejected responses are also SFT targets, e.g. {next(iter(both))}")


def save_datasets(sets: dict[str, list[dict]], out: str | Path, provenance: dict) -> Path:
    """Each dataset with ``Dataset.save_to_disk`` under ``out/<name>``, plus ``out/provenance.json``."""
    from datasets import Dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        if rows:
            Dataset.from_list(rows).save_to_disk(str(out / name))
        else:
            (out / f"{name}.EMPTY").write_text("no rows\n")
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1, default=str))
    return out


def load_dataset_dir(out: str | Path, name: str) -> Any:
    from datasets import load_from_disk

    path = Path(out) / name
    if not path.exists():
        raise FileNotFoundError(f"dataset {name!r} has no rows (see {Path(out) / 'provenance.json'})")
    return load_from_disk(str(path))
