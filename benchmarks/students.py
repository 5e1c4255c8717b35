"""Experiment-style tiny students for the fast-forward check: a tokenizer trained on the task
corpus (byte-level BPE whose merges cross spaces and punctuation), a tiny Llama pretrained on
task conversations, then SFT on the gold answers of the train split (the experiment's ``tiny``
preset, shortened). Built once into a work directory and reused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["eval_items", "train_student"]

#: the tiny preset's task settings (structcall/experiments/configs/tiny.yaml)
TASKS = dict(seed=0, tools_in_context=3, distractors="similar", reasoning_steps=2)


def _tasks(split: str, n: int) -> list[dict]:
    from structcall.experiments.tasks import TaskConfig, ToolTasks

    return list(ToolTasks(split, n, TaskConfig(**TASKS)))


def eval_items(n: int) -> list[dict]:
    """The first ``n`` items of the experiment's eval split."""
    return _tasks("eval", n)


def train_student(work: str | Path, *, n_pretrain: int = 3000, n_train: int = 400, sft_epochs: float = 3,
                  progress: bool = False) -> Path:
    """Train (or reuse) the student in ``work``; returns the SFT model's folder."""
    from structcall.experiments.models import build_tiny, train_task_tokenizer
    from structcall.experiments.stages import _sft_rows, render
    from structcall.experiments.training import TrainSettings, pretrain_lm, train_sft

    work = Path(work)
    final = work / "sft" / "final"
    if (final / "config.json").exists():
        return final
    pretrain, train = _tasks("pretrain", n_pretrain), _tasks("train", n_train)
    corpus = [render(ex["messages"], ex["tools"], completion=ex["target"]) for ex in pretrain + train]
    tok = train_task_tokenizer(corpus, vocab_size=2048)
    model = build_tiny(tok, hidden_size=128, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                       intermediate_size=384, seed=0)
    base = pretrain_lm(model, tok, corpus[:n_pretrain], work / "base",
                       TrainSettings(epochs=1, batch_size=4, learning_rate=5e-3, max_length=512, save_steps=250),
                       progress=progress)
    model, tok = _load(base)
    train_sft(model, tok, _sft_rows(train), work / "sft",
              TrainSettings(epochs=sft_epochs, batch_size=4, learning_rate=3e-3, max_length=512, save_steps=100),
              progress=progress)
    (work / "student.json").write_text(json.dumps({"n_pretrain": n_pretrain, "n_train": n_train,
                                                   "sft_epochs": sft_epochs, "tasks": TASKS}))
    return final


def _load(path: Any) -> Any:
    from structcall.experiments.models import load_causal_lm

    return load_causal_lm(str(path))


if __name__ == "__main__":
    import sys

    print(train_student(sys.argv[1] if len(sys.argv) > 1 else "/tmp/healing/student", progress=False))
