"""Training with TRL: LM pretraining on task text, SFT, and DPO (with an explicit reference model).

Every run writes checkpoints under ``<out>/checkpoints`` and resumes from the newest one when
it is started again after a kill; the finished model is saved to ``<out>/final`` with its
tokenizer, and ``<out>/train_log.json`` records the loss curve, steps, wall time and whether
(and from which step) the run resumed.

Device: TRL/accelerate use a visible GPU by themselves; on CPU we pass ``use_cpu=True,
bf16=False``. Multi-GPU: start the ``train`` stage under ``accelerate launch`` (see README);
nothing here is device-specific.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TrainSettings", "pretrain_lm", "train_sft", "train_dpo", "final_dir"]


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser settings of one training run (see the ``sft``/``dpo``/``pretrain`` config sections).

    epochs: passes over the data (ignored when ``max_steps`` > 0).
    max_steps: exact number of optimiser steps (used for DPO and the SFT control, so both take the same).
    batch_size: examples (or preference pairs) per optimiser step.
    micro_batch_size: examples per forward/backward pass (0 = batch_size); the gradients of
        batch_size / micro_batch_size passes are accumulated, so memory follows the micro batch
        (a 49k-token vocabulary makes the logits of long prompts large) and the step stays the same.
    learning_rate, warmup_ratio, scheduler: AdamW schedule.
    max_length: token cap of prompt+completion; longer examples are dropped (and counted), never cut.
    save_steps: checkpoint interval in steps (resume granularity).
    beta: DPO temperature (DPO only).
    lora_r: 0 = full fine-tuning; > 0 = LoRA adapters of this rank (peft) on every linear layer
        of the attention and MLP blocks, merged into the weights when training ends (so the next
        stage loads an ordinary model); DPO with LoRA uses the adapter-free model as reference.
    lora_alpha: LoRA scaling (alpha / r).
    """

    epochs: float = 1.0
    max_steps: int = 0
    batch_size: int = 8
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    max_length: int = 512
    save_steps: int = 50
    beta: float = 0.1
    weight_decay: float = 0.0
    lora_r: int = 0
    lora_alpha: int = 32
    micro_batch_size: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.save_steps < 1 or self.max_length < 8:
            raise ValueError(f"bad training settings: {self}")
        if self.micro_batch_size < 0 or (self.micro_batch_size and self.batch_size % self.micro_batch_size):
            raise ValueError(f"micro_batch_size must divide batch_size, got {self.micro_batch_size} and {self.batch_size}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("give epochs > 0 or max_steps > 0")


def final_dir(out: str | Path) -> Path:
    return Path(out) / "final"


def _device_args() -> dict:
    import torch

    if torch.cuda.is_available():
        return {"use_cpu": False, "bf16": bool(torch.cuda.is_bf16_supported())}
    return {"use_cpu": True, "bf16": False}


def _common(settings: TrainSettings, out: Path, seed: int, progress: bool, *, by_length: bool = False) -> dict:
    return dict(
        train_sampling_strategy="group_by_length" if by_length else "random",
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=settings.micro_batch_size or settings.batch_size,
        gradient_accumulation_steps=settings.batch_size // (settings.micro_batch_size or settings.batch_size),
        learning_rate=settings.learning_rate, lr_scheduler_type=settings.scheduler,
        warmup_steps=settings.warmup_ratio, weight_decay=settings.weight_decay,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps if settings.max_steps > 0 else -1,
        logging_steps=5, save_strategy="steps", save_steps=settings.save_steps, save_total_limit=2,
        seed=seed, data_seed=seed, report_to="none", activation_checkpointing=False,
        disable_tqdm=not progress, dataloader_num_workers=0, remove_unused_columns=True,
        max_length=settings.max_length, **_device_args(),
    )


def _peft_config(settings: TrainSettings) -> Any:
    if settings.lora_r <= 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])


def _last_checkpoint(out: Path) -> str | None:
    """The newest *complete* checkpoint (its trainer_state.json is written last); a checkpoint a
    kill left half-written is removed."""
    import shutil

    ck = out / "checkpoints"
    if not ck.is_dir():
        return None
    found = sorted((d for d in ck.iterdir() if d.is_dir() and d.name.startswith("checkpoint-")
                    and d.name.split("-")[-1].isdigit()), key=lambda d: int(d.name.split("-")[-1]), reverse=True)
    for d in found:
        if (d / "trainer_state.json").is_file():
            return str(d)
        shutil.rmtree(d)
    return None


def _quiet(trainer: Any, progress: bool) -> Any:
    """Without progress bars, also drop the callback that prints every log dict."""
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def _finish(trainer: Any, tokenizer: Any, out: Path, started: float, resumed: str | None, extra: dict) -> Path:
    """Save the final model (main process) and wait for every process (multi-GPU) to see it."""
    import shutil

    final = final_dir(out)
    if hasattr(trainer.model, "merge_and_unload"):  # LoRA: save the merged weights, an ordinary model
        if trainer.is_world_process_zero():
            trainer.model.merge_and_unload().save_pretrained(str(final))
    else:
        trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(final))
        state = trainer.state
        log = {"global_step": state.global_step, "wall_s": round(time.time() - started, 2),
               "resumed_from": resumed, "log_history": state.log_history, **extra}
        (out / "train_log.json").write_text(json.dumps(log, indent=1))
        shutil.rmtree(out / "checkpoints", ignore_errors=True)  # only needed to resume an unfinished run
    trainer.accelerator.wait_for_everyone()
    return final


def _fits(dataset: Any, tokenizer: Any, max_length: int, columns: tuple[str, ...]) -> tuple[Any, int]:
    """Drop text rows whose prompt+completion exceeds ``max_length`` tokens (never truncate)."""
    def length(row):
        return max(len(tokenizer(row[columns[0]] + row[col], add_special_tokens=False)["input_ids"])
                   for col in columns[1:]) + 1 <= max_length
    kept = dataset.filter(length)
    return kept, len(dataset) - len(kept)


def pretrain_lm(model: Any, tokenizer: Any, texts: list[str], out: str | Path, settings: TrainSettings, *,
                seed: int = 0, progress: bool = True) -> Path:
    """Causal-LM pretraining on plain task text (the tiny preset's "short pretraining")."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    out = Path(out)
    ds = Dataset.from_dict({"text": [t + tokenizer.eos_token for t in texts]})
    args = SFTConfig(**_common(settings, out, seed, progress, by_length=True), dataset_text_field="text")
    trainer = _quiet(SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer), progress)
    resumed, started = _last_checkpoint(out), time.time()
    trainer.train(resume_from_checkpoint=resumed)
    return _finish(trainer, tokenizer, out, started, resumed, {"examples": len(ds)})


def train_sft(model: Any, tokenizer: Any, dataset: Any, out: str | Path, settings: TrainSettings, *,
              seed: int = 0, progress: bool = True) -> Path:
    """SFT on text ``prompt``/``completion`` rows (loss on the completion only; EOS appended)."""
    from trl import SFTConfig, SFTTrainer

    out = Path(out)
    ds = dataset.remove_columns([c for c in dataset.column_names if c not in ("prompt", "completion")])
    ds, dropped = _fits(ds, tokenizer, settings.max_length, ("prompt", "completion"))
    if len(ds) == 0:
        raise ValueError(f"no SFT example fits max_length={settings.max_length} tokens ({dropped} dropped)")
    args = SFTConfig(**_common(settings, out, seed, progress, by_length=True), completion_only_loss=True)
    trainer = _quiet(SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                                peft_config=_peft_config(settings)), progress)
    resumed, started = _last_checkpoint(out), time.time()
    trainer.train(resume_from_checkpoint=resumed)
    return _finish(trainer, tokenizer, out, started, resumed, {"examples": len(ds), "dropped_too_long": dropped})


def train_dpo(model: Any, ref_model: Any, tokenizer: Any, dataset: Any, out: str | Path, settings: TrainSettings, *,
              seed: int = 0, progress: bool = True) -> Path:
    """DPO (sigmoid loss) on text ``prompt/chosen/rejected`` rows against a frozen ``ref_model``."""
    from trl import DPOConfig, DPOTrainer

    out = Path(out)
    keep = {"prompt", "chosen", "rejected"}
    ds = dataset.remove_columns([c for c in dataset.column_names if c not in keep])
    ds, dropped = _fits(ds, tokenizer, settings.max_length, ("prompt", "chosen", "rejected"))
    if len(ds) == 0:
        raise ValueError(f"no preference pair fits max_length={settings.max_length} tokens ({dropped} dropped)")
    args = DPOConfig(**_common(settings, out, seed, progress), beta=settings.beta, loss_type=["sigmoid"])
    lora = _peft_config(settings)
    trainer = _quiet(DPOTrainer(model=model, ref_model=None if lora else ref_model, args=args, train_dataset=ds,
                                processing_class=tokenizer, peft_config=lora), progress)
    resumed, started = _last_checkpoint(out), time.time()
    trainer.train(resume_from_checkpoint=resumed)
    return _finish(trainer, tokenizer, out, started, resumed, {"pairs": len(ds), "dropped_too_long": dropped})


def steps_for(n_examples: int, batch_size: int, epochs: float) -> int:
    """Optimiser steps for ``epochs`` passes over ``n_examples`` (single device)."""
    return max(1, math.ceil(n_examples / batch_size) * max(1, round(epochs)) if epochs >= 1
               else math.ceil(math.ceil(n_examples / batch_size) * epochs))
