"""Experiment configuration: dataclasses with documented defaults, YAML over defaults,
``--set section.key=value`` over YAML. Unknown keys and wrong types are errors that name the
key (and the closest known one).

Each stage hashes only the sections it reads (plus its inputs' hashes), so changing, say, the
DPO learning rate re-runs DPO, the control, evaluation and the report, and nothing before.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .training import TrainSettings

__all__ = ["ConfigError", "ModelSpec", "TasksSection", "TeacherSection", "DataSection", "EvalSection",
           "ExperimentConfig", "CONFIG_DIR", "packaged_configs", "config_path", "load_config", "apply_overrides", "to_dict", "digest"]


class ConfigError(ValueError):
    """A configuration problem, naming the key path (e.g. ``sft.learning_rate``) and the file."""


@dataclass(frozen=True)
class ModelSpec:
    """A student or teacher model.

    source: "tiny" builds a Llama from the fields below (with the task tokenizer); for the teacher,
        "student-base" starts from the tiny student's pretrained base (a longer-trained teacher);
        anything else is loaded with its own tokenizer: a Hugging Face id or folder, a .gguf file,
        or "smollm2".
    hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, intermediate_size:
        the tiny Llama's shape (ignored for loaded models).
    seed: initial weights of the tiny model.
    """

    source: str = "tiny"
    hidden_size: int = 128
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 384
    seed: int = 0

    @property
    def is_tiny(self) -> bool:
        """Trained here (built from this config, or from the tiny student's base)."""
        return self.source in ("tiny", "student-base")


@dataclass(frozen=True)
class TasksSection:
    """The task suite (see structcall.experiments.tasks.TaskConfig) and split sizes.

    n_pretrain: prompts rendered as plain text for the tiny models' LM pretraining.
    n_teacher: gold examples the tiny model teacher is fine-tuned on (a split of its own).
    n_train: prompts the teacher answers; the students' SFT and DPO data come from them.
    n_eval: held-out items, disjoint in surface form; spread evenly over the subtasks.
    """

    seed: int = 0
    tools_in_context: int = 4
    distractors: str = "similar"
    reasoning_steps: int = 2
    n_pretrain: int = 1200
    n_teacher: int = 800
    n_train: int = 400
    n_eval: int = 160


@dataclass(frozen=True)
class TeacherSection:
    """Who writes the candidate responses the students learn from.

    kind: "model" samples a causal LM (the arXiv 2410.18890 recipe); "oracle" writes the gold
        response plus labelled negatives of every failure kind.
    model: the model teacher ("tiny" = pretrained on task text and fine-tuned on the teacher split).
    pretrain, sft: the tiny teacher's training (longer than the student's).
    samples_per_prompt: k candidates per training prompt (model teacher).
    temperature, top_p, max_new_tokens: the model teacher's sampling.
    batch_size: generation batch size.
    include_gold: also put the gold response among the model teacher's candidates (off in the
        presets: it turns distillation into SFT on gold; useful when a weak teacher leaves subtasks uncovered).
    """

    kind: str = "model"
    model: ModelSpec = ModelSpec(hidden_size=192, num_hidden_layers=4, intermediate_size=576, seed=1)
    pretrain: TrainSettings = TrainSettings(epochs=2, batch_size=16, learning_rate=2e-3)
    sft: TrainSettings = TrainSettings(epochs=4, batch_size=16, learning_rate=1e-3)
    samples_per_prompt: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 96
    batch_size: int = 32
    include_gold: bool = False


@dataclass(frozen=True)
class DataSection:
    """SFT and DPO data.

    SFT: one verified-correct teacher response per training prompt.
    DPO (primary arm ``dpo``): on-policy pairs from the SFT student's own samples
        (``onpolicy_samples`` per prompt at ``onpolicy_temperature``, free decoding), verified: the
        chosen side is a correct sample (else the gold answer), the rejected side one of its real
        mistakes; at most ``pairs_per_prompt`` per prompt.
    Ablation arms ``dpo_format`` / ``dpo_semantic``: minimal pairs on call items, gold vs gold with
        one format edit / one tool-or-value edit: the same prompts and chosen side, matched counts.
    max_pairs: cap on the pair count of every DPO arm. Every DPO arm and the SFT-control train for
        the same number of steps (``max_pairs`` pairs x ``dpo.epochs``), so no arm gets more training.
    """

    pairs_per_prompt: int = 2
    max_pairs: int = 200
    onpolicy_samples: int = 4
    onpolicy_temperature: float = 1.0
    onpolicy_max_new_tokens: int = 96
    onpolicy_batch_size: int = 32


@dataclass(frozen=True)
class EvalSection:
    """Evaluation through structcall.generate_batch: every student free and constrained; the
    third regime, free + deterministic repair, is scored from the free outputs.

    backend: constrained-decoding backend; temperature 0 = greedy (same settings in every regime).
    fast_forward: feed grammar-forced text in multi-token forward passes. On by default: the decoder
        drafts forced text with token healing and the model confirms every drafted token, so the
        output equals step-by-step decoding and the mask stays the only difference between the
        regimes (checked by ``python -m benchmarks.fastforward_check``: identical outputs and the
        paired accuracy difference, on a tiny student and on SmolLM2 with BFCL v4).
    bootstrap: hierarchical bootstrap resamples (seeds, then items) for the intervals.
    include_teacher: also score the teacher (context for the report; not part of the attribution).
    bfcl_per_category: real BFCL v4 items (from the bfcl-eval package) per category, stratified;
        0 = no BFCL evaluation. bfcl_categories: which categories (v3 or v4 names).
    bfcl_arms: which students are scored on BFCL (empty = every arm).
    """

    max_new_tokens: int = 96
    batch_size: int = 32
    backend: str = "llguidance"
    fast_forward: bool = True
    temperature: float = 0.0
    bootstrap: int = 1000
    include_teacher: bool = True
    bfcl_per_category: int = 0
    bfcl_categories: tuple[str, ...] = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
                                        "live_simple", "live_multiple", "live_irrelevance")
    bfcl_arms: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExperimentConfig:
    """The whole experiment. ``seeds`` are training seeds: every arm is trained once per seed.

    arms: which students to train (sft is required; the others start from it).
    tokenizer_vocab_size: the tiny models' task tokenizer (unused for loaded models).
    pretrain: the tiny student's LM pretraining; pretrain_on: "prompts" (system, tools, user turns
        and tool results, without the answers) or "conversations" (with the gold answers).
    threads: torch CPU threads per process (0 = torch's default, one per core). Default 1: on a
        shared 2-core machine the tiny preset's pretraining ran 0.5 s per step on one thread and
        5-7 s on two (the other core busy); one process per core with one thread holds up under load.
    format: the students' output format (a structcall format name): training targets are rendered,
        prompts written, outputs decoded and parsed in it. ``native`` = the student's own
        (detected from its chat template).
    """

    name: str = "tiny"
    run_dir: str = "runs/tiny"
    seeds: tuple[int, ...] = (0, 1, 2)
    arms: tuple[str, ...] = ("sft", "sft_control", "dpo", "dpo_format", "dpo_semantic")
    format: str = "hermes"
    tasks: TasksSection = TasksSection()
    tokenizer_vocab_size: int = 2048
    student: ModelSpec = ModelSpec()
    pretrain: TrainSettings = TrainSettings(epochs=1, batch_size=16, learning_rate=2e-3)
    pretrain_on: str = "prompts"
    threads: int = 1
    teacher: TeacherSection = TeacherSection()
    data: DataSection = DataSection()
    sft: TrainSettings = TrainSettings(epochs=3, batch_size=16, learning_rate=1e-3)
    dpo: TrainSettings = TrainSettings(epochs=2, batch_size=8, learning_rate=5e-4, beta=0.1)
    eval: EvalSection = EvalSection()

    def __post_init__(self) -> None:
        known = ("sft", "sft_control", "dpo", "dpo_format", "dpo_semantic")
        bad = [a for a in self.arms if a not in known]
        if bad or "sft" not in self.arms:
            raise ConfigError(f"arms: unknown {bad} (known: {list(known)}); 'sft' is required")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be a non-empty list of distinct integers, got {list(self.seeds)}")
        if self.teacher.kind not in ("model", "oracle"):
            raise ConfigError(f"teacher.kind must be 'model' or 'oracle', got {self.teacher.kind!r}")
        if self.teacher.model.source == "student-base" and not self.student.source == "tiny":
            raise ConfigError("teacher.model.source 'student-base' needs a tiny student (student.source: tiny)")
        if self.student.source == "student-base":
            raise ConfigError("student.source cannot be 'student-base'")
        if self.pretrain_on not in ("prompts", "conversations"):
            raise ConfigError(f"pretrain_on must be 'prompts' or 'conversations', got {self.pretrain_on!r}")
        if "sft_control" in self.arms and "dpo" not in self.arms:
            raise ConfigError("arms: 'sft_control' trains on the on-policy DPO arm's chosen responses; add 'dpo'")
        from .bfcl import check_categories

        try:
            check_categories(self.eval.bfcl_categories)
        except ValueError as exc:
            raise ConfigError(f"eval.bfcl_categories: {exc}") from None
        if self.eval.backend not in ("llguidance", "outlines", "xgrammar"):
            raise ConfigError(f"eval.backend must be llguidance, outlines or xgrammar, got {self.eval.backend!r}")


# --------------------------------------------------------------------------------------------
def _build(cls: type, data: Any, where: str) -> Any:
    if not dataclasses.is_dataclass(cls):
        return _coerce(cls, data, where)
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            near = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(names)}"
            raise ConfigError(f"unknown key {(where + '.' if where else '') + str(key)!r}{hint}")
        kwargs[key] = _build(hints[key], value, f"{where}.{key}" if where else key)
    defaults = cls()
    for name in names:  # nested sections merge into their defaults
        if name in kwargs and dataclasses.is_dataclass(hints[name]) and isinstance(data.get(name), dict):
            base = dataclasses.asdict(getattr(defaults, name))
            kwargs[name] = _build(hints[name], _merge(base, data[name]), f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)  # YAML reads 1e-3 as a string
        except ValueError:
            pass
    if tp in (int, str, bool, float) and not (isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


#: the configs shipped with the package (``tiny``, ``pilot``, ``smol``)
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def packaged_configs() -> list[str]:
    """Names of the packaged configs (``CONFIG_DIR/<name>.yaml``)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_path(config: str | Path) -> Path:
    """A YAML file: ``config`` itself when it is a file, else the packaged config of that name
    (``"tiny"`` -> ``CONFIG_DIR/tiny.yaml``). Neither is an error naming the packaged configs."""
    p = Path(config)
    if p.is_file():
        return p
    names = packaged_configs()
    if str(config) in names:
        return CONFIG_DIR / f"{config}.yaml"
    near = difflib.get_close_matches(p.stem, names, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise ConfigError(f"config file not found: {p} is neither a file nor a packaged config "
                      f"(packaged: {', '.join(names)}){hint}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Defaults <- YAML file <- ``section.key=value`` overrides (values parsed as YAML).

    ``path``: a YAML file or the name of a packaged config (see :func:`config_path`)."""
    import yaml

    data: dict = {}
    if path is not None:
        p = config_path(path)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{p}:{mark.line + 1}" if mark else str(p)
            raise ConfigError(f"{where}: invalid YAML: {exc}") from None
    data = apply_overrides(data, overrides or [])
    try:
        return _build(ExperimentConfig, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    import yaml

    data = json.loads(json.dumps(data))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (stage cache keys)."""
    blob = json.dumps([to_dict(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
