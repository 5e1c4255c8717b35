"""The stages, in order, each cached under the run directory by a hash of what produced it.

    tasks -> base -> teacher -> datasets -> train -> eval -> report

``train`` holds, per seed: the SFT student, its own samples (``onpolicy/s<seed>``: the
on-policy pairs of the primary DPO arm and the SFT-control's rows), then the DPO arms and
the control, which all start from that SFT student and take the same number of steps.

A stage writes ``<run_dir>/<stage>/.../DONE.json`` holding its key (a hash of the config
sections it reads and the keys of its inputs) only after all its outputs exist. A stage whose
marker holds the current key is skipped; one with another key (the config changed) is redone
from scratch; one without a marker (a killed run) resumes: training restarts from its last
checkpoint, evaluation from the files already written. Nothing already computed is redone.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

from .config import ExperimentConfig, digest, to_dict
from .evaluation import rescore
from .tasks import TaskConfig, ToolTasks

__all__ = ["STAGES", "Run"]

STAGES = ("tasks", "base", "teacher", "datasets", "train", "eval", "report")


def is_main_process() -> bool:
    """False in the non-zero ranks of an ``accelerate launch`` (they train, but write no markers)."""
    return os.environ.get("RANK", "0") == "0"


def _jsonl_write(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    tmp.replace(path)


def _jsonl_read(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


class Run:
    """One experiment run directory and its stages."""

    def __init__(self, config: ExperimentConfig, run_dir: str | Path | None = None, *, progress: bool = True,
                 log: Callable[[str], None] | None = None, reuse_only: bool = False) -> None:
        """``reuse_only``: never compute or delete a stage (``experiment report``): every stage must
        be finished already, whatever its key, or a clear error says which one is missing."""
        self.cfg = config
        self.reuse_only = reuse_only
        self.dir = Path(run_dir or config.run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self._log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.keys: dict[str, str] = {}
        self.timings_path = self.dir / "timings.json"
        self.timings: dict[str, dict] = json.loads(self.timings_path.read_text()) if self.timings_path.exists() else {}
        self._cache: dict[str, Any] = {}
        if not progress:
            import datasets
            import transformers

            datasets.disable_progress_bars()
            transformers.utils.logging.disable_progress_bar()
        if config.threads:
            import torch

            torch.set_num_threads(config.threads)
        if is_main_process() and not reuse_only:
            (self.dir / "config.json").write_text(json.dumps(to_dict(config), indent=1))

    # ---- bookkeeping ----------------------------------------------------------------------
    def log(self, msg: str) -> None:
        if is_main_process():
            self._log(f"[structcall experiment] {msg}")

    def _done(self, path: Path, key: str) -> bool:
        marker = path / "DONE.json"
        if self.reuse_only:
            if not marker.exists():
                raise FileNotFoundError(f"{path} is not finished; run `structcall experiment run` on this run first")
            return True
        if marker.exists():
            if json.loads(marker.read_text()).get("key") == key:
                return True
            self.log(f"{path.relative_to(self.dir)}: config changed, recomputing")
            shutil.rmtree(path)
        return False

    def _mark(self, path: Path, key: str, **info: Any) -> None:
        if not is_main_process():
            return
        path.mkdir(parents=True, exist_ok=True)
        (path / "DONE.json").write_text(json.dumps({"key": key, "finished": time.time(), **info}, indent=1))

    def _timed(self, name: str, fn: Callable[[], Any], cached: bool, out_dir: Path | None = None) -> Any:
        # a stage that finds work of an earlier, interrupted attempt in its folder resumes it; its
        # timing then covers the last attempt only, so it is marked and gives no per-unit cost
        resumed = out_dir is not None and out_dir.is_dir() and any(out_dir.iterdir())
        start, cpu = time.time(), time.process_time()
        out = fn()
        if not cached and is_main_process():
            self.timings[name] = {"wall_s": round(time.time() - start, 2), "cpu_s": round(time.process_time() - cpu, 2)}
            if resumed:
                self.timings[name]["resumed"] = True
            self.timings_path.write_text(json.dumps(self.timings, indent=1))
        return out

    # ---- stages ---------------------------------------------------------------------------
    def run(self, until: str = "report") -> None:
        if until not in STAGES:
            raise ValueError(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
        for stage in STAGES[: STAGES.index(until) + 1]:
            getattr(self, stage)()

    def tasks(self) -> dict[str, list[dict]]:
        if "tasks" in self._cache:
            return self._cache["tasks"]
        t = self.cfg.tasks
        key = self.keys["tasks"] = digest("tasks", t)
        out = self.dir / "tasks"
        sizes = {"pretrain": t.n_pretrain, "teacher": t.n_teacher, "train": t.n_train, "eval": t.n_eval}
        cached = self._done(out, key)
        if not cached:
            self.log("tasks: generating splits " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
            tc = TaskConfig(seed=t.seed, tools_in_context=t.tools_in_context, distractors=t.distractors,
                            reasoning_steps=t.reasoning_steps)
            out.mkdir(parents=True, exist_ok=True)
            for split, n in sizes.items():
                _jsonl_write(out / f"{split}.jsonl", list(ToolTasks(split, n, tc)))
            self._mark(out, key, sizes=sizes)
        self._cache["tasks"] = {s: _jsonl_read(out / f"{s}.jsonl") for s in sizes}
        return self._cache["tasks"]

    def base(self) -> dict[str, str]:
        """Tokenizer + pretrained tiny student/teacher bases (or references to loaded models)."""
        from .stages import build_bases

        splits = self.tasks()
        c = self.cfg
        teacher_spec = c.teacher.model if c.teacher.kind == "model" else None
        key = self.keys["base"] = digest("base", self.keys["tasks"], c.student, c.tokenizer_vocab_size, c.pretrain,
                                         c.pretrain_on, teacher_spec,
                                         c.teacher.pretrain if teacher_spec and teacher_spec.source == "tiny" else None)
        out = self.dir / "base"
        cached = self._done(out, key)
        if not cached:
            self._timed("base", lambda: build_bases(self, splits, out), cached=False)
            self._mark(out, key)
        return json.loads((out / "bases.json").read_text())

    def teacher(self) -> list[dict]:
        from .stages import run_teacher

        bases = self.base()
        c = self.cfg
        key = self.keys["teacher"] = digest("teacher", self.keys["base"], c.teacher)
        out = self.dir / "teacher"
        cached = self._done(out, key)
        if not cached:
            self._timed("teacher", lambda: run_teacher(self, bases, out), cached=False)
            self._mark(out, key)
        return _jsonl_read(out / "candidates.jsonl")

    def datasets(self) -> Path:
        from .data import build_datasets, save_datasets

        candidates = self.teacher()
        key = self.keys["datasets"] = digest("datasets", self.keys["teacher"], self.cfg.data.max_pairs, self.cfg.tasks.seed,
                                             self.cfg.format)
        out = self.dir / "data"
        if not self._done(out, key):
            def build():
                sets, stats = build_datasets(self.tasks()["train"], candidates, fmt=self.cfg.format,
                                             max_pairs=self.cfg.data.max_pairs, seed=self.cfg.tasks.seed)
                self.log("datasets: " + ", ".join(f"{k}={v}" for k, v in stats["rows"].items()))
                prov = {"key": key, "teacher": to_dict(self.cfg.teacher), "data": to_dict(self.cfg.data), "stats": stats,
                        "source": "structcall.experiments.data.build_datasets", "created": time.time()}
                save_datasets(sets, out, prov)
            self._timed("datasets", build, cached=False)
            self._mark(out, key)
        return out

    def train(self) -> dict[tuple[str, int], Path]:
        from .training import steps_for

        data_dir = self.datasets()
        bases = self.base()
        c = self.cfg
        models: dict[tuple[str, int], Path] = {}
        for seed in c.seeds:
            sft_key = digest("sft", self.keys["datasets"], self.keys["base"], c.sft, seed, c.format)
            self.keys[f"sft-s{seed}"] = sft_key
            models[("sft", seed)] = self._train_one("sft", seed, sft_key, data_dir, bases["student"])
            init = str(models[("sft", seed)])
            dirs = {arm: data_dir for arm in ("dpo_format", "dpo_semantic")}
            n_pairs = c.data.max_pairs
            if "dpo" in c.arms:
                on_dir = self.onpolicy(seed, sft_key, init)
                dirs.update(dpo=on_dir, sft_control=on_dir)
                n_pairs = json.loads((on_dir / "audit.json").read_text())["audit"]["pairs"]
            steps = steps_for(n_pairs, c.dpo.batch_size, c.dpo.epochs)
            for arm in c.arms:
                if arm == "sft":
                    continue
                key = self.keys[f"{arm}-s{seed}"] = digest(arm, sft_key, c.dpo, steps, self.keys.get(f"onpolicy-s{seed}"),
                                                           self.keys["datasets"])
                models[(arm, seed)] = self._train_one(arm, seed, key, dirs[arm], init, steps=steps)
        return models

    def onpolicy(self, seed: int, sft_key: str, init: str) -> Path:
        """The SFT student's samples and the on-policy pairs for ``seed``."""
        from .stages import sample_student

        d = self.cfg.data
        key = self.keys[f"onpolicy-s{seed}"] = digest("onpolicy", sft_key, d, self.cfg.format)
        out = self.dir / "onpolicy" / f"s{seed}"
        if not self._done(out, key):
            if out.exists():  # an interrupted sampling run: sampling is redone whole
                shutil.rmtree(out)
            info = self._timed(f"onpolicy/s{seed}", lambda: sample_student(self, seed, init, out), cached=False,
                                   out_dir=out)
            self._mark(out, key, **info)
        return out

    def _train_one(self, arm: str, seed: int, key: str, data_dir: Path, init: str, *, steps: int = 0) -> Path:
        from .stages import train_arm

        out = self.dir / "train" / f"{arm}-s{seed}"
        cached = self._done(out, key)
        if not cached:
            origin = Path(init).parent.name if Path(init).name == "final" else init
            self.log(f"train: {arm} seed {seed} (from {origin})")
            info = self._timed(f"train/{arm}-s{seed}", lambda: train_arm(self, arm, seed, data_dir, init, out, steps=steps),
                               cached=False, out_dir=out)
            self._mark(out, key, **info)
        return out / "final"

    def eval(self) -> list[dict]:
        from .stages import eval_model

        models = self.train()
        rows: list[dict] = []
        targets = [(arm, seed, str(path), self.keys[f"{arm}-s{seed}"]) for (arm, seed), path in models.items()]
        if self.cfg.eval.include_teacher and self.cfg.teacher.kind == "model":
            targets.append(("teacher", -1, json.loads((self.dir / "teacher" / "teacher.json").read_text())["model"],
                            self.keys["teacher"]))
        for arm, seed, path, model_key in targets:
            key = digest("eval", model_key, self.cfg.eval, self.keys["tasks"], self.cfg.format)
            out = self.dir / "eval" / f"{arm}-s{seed}"
            if not self._done(out, key):
                self._timed(f"eval/{arm}-s{seed}", lambda: eval_model(self, arm, seed, path, out), cached=False,
                            out_dir=out)
                self._mark(out, key)
            for regime in ("free", "constrained"):
                rows += _jsonl_read(out / f"{regime}.jsonl")
        rows = rescore(rows, self._eval_items(), self.cfg.format)
        self._cache["rows"] = rows
        return rows

    def _eval_items(self) -> list[dict]:
        from .stages import eval_items

        return eval_items(self)

    def report(self) -> dict:
        from .report import write_report

        rows = self.eval()
        self.log("report: writing results.json, report.md, items.jsonl and plots")
        return self._timed("report", lambda: write_report(self, rows), cached=False)
