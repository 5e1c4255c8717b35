"""Does fast-forward change what is decoded? ``python -m benchmarks.fastforward_check``.

Greedy decoding of the same items with fast-forward on and off (``structcall.generate_batch``,
``fast_forward=True`` vs ``False``; everything else equal), on

* ``smollm2``: SmolLM2-135M-Instruct on BFCL v4 questions (the ``bfcl-eval`` package's own
  data: simple_python, multiple, parallel, parallel_multiple, taken in turn), ``tool_choice``
  ``"required"`` by default (the setting that forces the most text);
* ``students``: a tiny student trained like the experiment's ``tiny`` preset (task tokenizer
  whose merges cross the grammar's boundaries, pretraining, SFT; see ``benchmarks.students``;
  built once into ``--student-dir``) on the experiment's eval items, ``tool_choice="auto"``
  as the experiment evaluates.

Printed per model: items, identical outputs (count and %), AST accuracy (the experiment's
BFCL-style verifier) with fast-forward off and on, the paired difference with its 95% paired
bootstrap interval, the share of output tokens fast-forwarded, forward passes and decode time
with and without fast-forward. ``--limit`` caps the items per model. A JSON copy of every
figure and the differing items goes to ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import platform
import random
import time
from pathlib import Path
from typing import Any

__all__ = ["bfcl_items", "compare", "main", "paired_interval"]

BFCL_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")


def bfcl_items(limit: int, categories: tuple[str, ...] = BFCL_CATEGORIES) -> list[dict]:
    """BFCL v4 questions from the installed ``bfcl-eval`` package, categories taken in turn,
    in the verifier's item shape."""
    try:
        import bfcl_eval
    except ImportError as exc:
        raise SystemExit("the smollm2 check needs BFCL v4 data from the PyPI package bfcl-eval: "
                         "pip install --no-deps bfcl-eval") from exc
    root = Path(bfcl_eval.__file__).parent / "data"
    per_cat: list[list[dict]] = []
    for cat in categories:
        path = root / f"BFCL_v4_{cat}.json"
        answers = {}
        for line in (root / "possible_answer" / path.name).read_text().splitlines():
            if line.strip():
                a = json.loads(line)
                answers[a["id"]] = a["ground_truth"]
        rows = []
        for line in path.read_text().splitlines():
            if line.strip():
                q = json.loads(line)
                rows.append({"id": q["id"], "subtask": cat, "messages": q["question"][0], "tools": q["function"],
                             "expect": "call", "ground_truth": answers[q["id"]], "gold_calls": None, "facts": []})
        per_cat.append(rows)
    items: list[dict] = []
    for k in range(max(len(r) for r in per_cat)):
        for rows in per_cat:
            if k < len(rows) and len(items) < limit:
                items.append(rows[k])
    return items


def paired_interval(diffs: list[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of paired differences and its 95% bootstrap interval (resampling items)."""
    n = len(diffs)
    mean = sum(diffs) / n if n else 0.0
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples)) if n else [0.0]
    return mean, means[int(0.025 * (len(means) - 1))], means[int(0.975 * (len(means) - 1))]


def compare(name: str, model: Any, tokenizer: Any, items: list[dict], *, tool_choice: str, max_new_tokens: int,
            batch_size: int, backend: str) -> dict:
    """Run ``items`` with fast-forward off and on; returns the figures (and prints them)."""
    from structcall.experiments.verifier import verify
    from structcall.decoding import generate_batch

    requests = [{"messages": ex["messages"], "tools": ex["tools"], "tool_choice": tool_choice} for ex in items]
    runs: dict[bool, dict] = {}
    for ff in (False, True):
        t0 = time.perf_counter()
        results = generate_batch(model, tokenizer, requests, backend=backend, max_new_tokens=max_new_tokens,
                                 batch_size=batch_size, temperature=0.0, fast_forward=ff)
        wall = time.perf_counter() - t0
        ast = [bool(verify(r.text, ex, truncated=r.finish_reason == "length", execute=False, format="hermes").ast_correct)
               for r, ex in zip(results, items)]
        runs[ff] = {"results": results, "ast": ast, "wall_s": wall}
    off, on = runs[False], runs[True]
    same = [a.text == b.text for a, b in zip(off["results"], on["results"])]
    diffs = [float(b) - float(a) for a, b in zip(off["ast"], on["ast"])]
    mean, lo, hi = paired_interval(diffs)
    tokens = sum(r.completion_tokens for r in on["results"])
    forced = sum(r.forced_tokens for r in on["results"])

    def passes(rs: list) -> float:  # per batch; each result of a batch carries the batch's count
        seen, total = set(), 0.0
        for r in rs:
            key = (r.timings["decode"], r.timings["forward_passes"])
            if key not in seen:
                seen.add(key)
                total += r.timings["forward_passes"]
        return total

    out = {
        "model": name, "items": len(items), "tool_choice": tool_choice, "backend": backend,
        "max_new_tokens": max_new_tokens, "batch_size": batch_size,
        "identical": sum(same), "identical_pct": 100.0 * sum(same) / max(1, len(items)),
        "ast_off_pct": 100.0 * sum(off["ast"]) / max(1, len(items)),
        "ast_on_pct": 100.0 * sum(on["ast"]) / max(1, len(items)),
        "ast_diff_pp": 100.0 * mean, "ast_diff_ci95_pp": [100.0 * lo, 100.0 * hi],
        "fast_forwarded_tokens_pct": 100.0 * forced / max(1, tokens),
        "forward_passes_off": passes(off["results"]), "forward_passes_on": passes(on["results"]),
        "wall_s_off": off["wall_s"], "wall_s_on": on["wall_s"],
        "differing": [{"id": ex["id"], "off": a.text, "on": b.text}
                      for ex, a, b, s in zip(items, off["results"], on["results"], same) if not s],
    }
    print(f"\n== {name}: {len(items)} items, greedy, tool_choice={tool_choice!r}, backend {backend}, "
          f"batch {batch_size}, max_new_tokens {max_new_tokens}")
    print(f"identical outputs, fast-forward on vs off: {out['identical']}/{len(items)} ({out['identical_pct']:.1f}%)")
    print(f"AST accuracy: off {out['ast_off_pct']:.1f}%, on {out['ast_on_pct']:.1f}%; "
          f"difference (on - off) {out['ast_diff_pp']:+.2f} pp, paired 95% interval "
          f"[{out['ast_diff_ci95_pp'][0]:+.2f}, {out['ast_diff_ci95_pp'][1]:+.2f}] pp")
    print(f"fast-forwarded tokens: {out['fast_forwarded_tokens_pct']:.1f}% of output tokens; forward passes "
          f"off {out['forward_passes_off']:.0f}, on {out['forward_passes_on']:.0f}; decode wall time off "
          f"{out['wall_s_off']:.1f} s, on {out['wall_s_on']:.1f} s (x{out['wall_s_on'] / max(1e-9, out['wall_s_off']):.2f})")
    for d in out["differing"][:5]:
        print(f"  differs: {d['id']}\n    off: {d['off'][:150]!r}\n    on:  {d['on'][:150]!r}")
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="students,smollm2", help="comma list of: students, smollm2")
    p.add_argument("--limit", type=int, default=200, help="items per model (default 200)")
    p.add_argument("--student-limit", type=int, default=None, help="items for the students (default: --limit)")
    p.add_argument("--student-dir", default="bench-results/student", help="where the tiny student is built/reused")
    p.add_argument("--tool-choice", default="required", help="SmolLM2's tool_choice (default required)")
    p.add_argument("--backend", default="llguidance")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--out", default="bench-results", help="folder for fastforward_check.json")
    args = p.parse_args(argv)
    import torch

    torch.manual_seed(0)
    report: dict[str, Any] = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                              "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "runs": []}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        if name == "students":
            from benchmarks.students import eval_items, train_student
            from structcall.experiments.models import load_causal_lm

            path = train_student(args.student_dir)
            model, tok = load_causal_lm(str(path))
            items = eval_items(args.student_limit or args.limit)
            report["runs"].append(compare("tiny SFT student (experiment tiny preset, shortened)", model, tok, items,
                                          tool_choice="auto", max_new_tokens=96, batch_size=args.batch_size,
                                          backend=args.backend))
        elif name == "smollm2":
            from structcall.models import load_model

            model, tok = load_model("smollm2")
            items = bfcl_items(args.limit)
            report["runs"].append(compare("SmolLM2-135M-Instruct on BFCL v4", model, tok, items,
                                          tool_choice=args.tool_choice, max_new_tokens=args.max_new_tokens,
                                          batch_size=args.batch_size, backend=args.backend))
        else:
            raise SystemExit(f"unknown model {name!r}; choose from students, smollm2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fastforward_check.json").write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
