"""Per-unit training costs, full fine-tuning vs LoRA, on the experiment's own data and prompts.

    python -m structcall.experiments.costs --model smollm2 --format hermes --examples 16 --pairs 8

Trains SFT on ``--examples`` examples and DPO on ``--pairs`` minimal pairs (one epoch each), once
with every weight trainable and once with LoRA adapters (``--lora-r``), from the same start, and
prints wall and CPU seconds per example / per pair and the ratio. The measurement is the time
only: which one reaches better accuracy per CPU-hour also needs the pilot's evaluation.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

__all__ = ["measure"]


def measure(model: str, *, fmt: str, examples: int, pairs: int, lora_r: int, batch_size: int,
            micro_batch_size: int = 1) -> dict:
    from datasets import Dataset

    from .data import minimal_pairs, target_text
    from .models import load_causal_lm
    from .stages import text_rows
    from .tasks import ToolTasks
    from .training import TrainSettings, train_dpo, train_sft

    train = list(ToolTasks("train", max(examples, 4 * pairs)))
    sft_rows = Dataset.from_list([{"messages": ex["messages"] + [{"role": "assistant", "content": target_text(ex, fmt)}],
                                   "tools": json.dumps(ex["tools"])} for ex in train[:examples]])
    dpo_rows = Dataset.from_list(minimal_pairs(train, fmt, max_pairs=pairs)[0])
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, r in (("full", 0), (f"lora_r{lora_r}", lora_r)):
            settings = TrainSettings(epochs=1, batch_size=batch_size, learning_rate=1e-4, lora_r=r, save_steps=10_000,
                                     max_length=4096, micro_batch_size=micro_batch_size)
            m, tok = load_causal_lm(model)
            rows = text_rows(sft_rows, tok, fmt)
            out["prompt_tokens_mean"] = {"value": sum(len(tok(x)["input_ids"]) for x in rows["prompt"]) / len(rows)}
            t0, c0 = time.time(), time.process_time()
            train_sft(m, tok, rows, Path(tmp) / f"sft-{name}", settings, progress=False)
            sft = (time.time() - t0, time.process_time() - c0)
            m, tok = load_causal_lm(model)
            ref = None if r else load_causal_lm(model)[0]
            rows = text_rows(dpo_rows, tok, fmt)
            t0, c0 = time.time(), time.process_time()
            train_dpo(m, ref, tok, rows, Path(tmp) / f"dpo-{name}", settings, progress=False)
            dpo = (time.time() - t0, time.process_time() - c0)
            out[name] = {"sft_wall_s_per_example": sft[0] / len(sft_rows), "sft_cpu_s_per_example": sft[1] / len(sft_rows),
                         "dpo_wall_s_per_pair": dpo[0] / len(dpo_rows), "dpo_cpu_s_per_pair": dpo[1] / len(dpo_rows)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--format", default="hermes")
    p.add_argument("--examples", type=int, default=16)
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--micro-batch-size", type=int, default=1)
    a = p.parse_args()
    res = measure(a.model, fmt=a.format, examples=a.examples, pairs=a.pairs, lora_r=a.lora_r, batch_size=a.batch_size,
                  micro_batch_size=a.micro_batch_size)
    print(json.dumps(res, indent=1))
    full, lora = res["full"], res[f"lora_r{a.lora_r}"]
    print(f"prompt tokens (mean): {res['prompt_tokens_mean']['value']:.0f}")
    print(f"LoRA / full, wall: SFT x{lora['sft_wall_s_per_example'] / full['sft_wall_s_per_example']:.2f}, "
          f"DPO x{lora['dpo_wall_s_per_pair'] / full['dpo_wall_s_per_pair']:.2f}")
    # on a shared core the wall ratio also measures the neighbours; CPU seconds are this process's own
    print(f"LoRA / full, CPU: SFT x{lora['sft_cpu_s_per_example'] / full['sft_cpu_s_per_example']:.2f}, "
          f"DPO x{lora['dpo_cpu_s_per_pair'] / full['dpo_cpu_s_per_pair']:.2f}")


if __name__ == "__main__":
    main()
