"""Many tools in context: accuracy of a real model as the tool list grows, by prompt view.

    python -m benchmarks.manytools_eval [--limit 20] [--sizes 3 10 30 100] [--out DIR]

BFCL v4's ``multiple`` category (each question comes with 2-4 functions, one of them right),
with distractors drawn from the other BFCL functions (``benchmarks.bfcl_tools``; seeded per
question, the question's own functions always kept, the order shuffled) until ``N`` tools are in
play. For each ``N`` and each question the same model answers under:

* ``full``: the ``N`` tools' full JSON schemas in the prompt; the grammar admits the ``N``;
* ``compact``: ``N`` one-line signatures (``structcall.signatures``); the grammar still holds
  the ``N`` full schemas;
* ``retrieval``: BM25 (``structcall.retrieval``) picks ``top_k`` of the ``N`` for the prompt
  (full schemas); the grammar admits only those (``restrict_to_candidates=True``);

each decoded ``constrained`` (llguidance) and, at the ``--free-sizes``, ``free`` (no mask; parse
and validate only), greedy, ``tool_choice="required"`` and one call (every ``multiple`` question
wants exactly one; the prompt says so in both regimes), fast-forward off (so the two regimes
differ by the mask alone). Cells run cheapest first (``--order question``: each question through
every cell in turn); Ctrl-C / SIGTERM stops early and still writes the summary of what ran.
Each row is appended to ``items.jsonl`` as it finishes; ``--resume`` keeps those rows and runs
only what is missing (a larger ``--limit`` adds questions: up to 21, the seeded sample of a
smaller limit is a prefix of a larger one's). Scored by BFCL's
AST check (``structcall.experiments.verifier.ast_match``). A cell whose prompts would not fit the model's
context is not run and is reported as such. Writes ``results.json``, ``items.jsonl``,
``results.md`` and ``accuracy.png`` to ``--out``; prints prompt tokens per view (what compact
prompts save).
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import math
import platform
import random
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bfcl_tools import bfcl_library, bfcl_multiple_items

__all__ = ["build_cells", "main", "tool_sets", "wilson"]

VIEWS = ("full", "compact", "retrieval")
REGIMES = ("free", "constrained")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion ``k / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def _norm(name: str) -> str:
    return name.replace(".", "_")


def tool_sets(item: dict, library: list[dict], n: int, *, seed: int) -> list[dict]:
    """``n`` tools for ``item``: its gold function, its other functions, then distractors drawn
    from ``library`` (never a name the item has), shuffled; all seeded by ``seed`` and the item."""
    rng = random.Random(f"{seed}:{item['id']}")
    gold_names = {_norm(next(iter(g))) for g in item["ground_truth"]}
    own = list(item["tools"])
    gold = [f for f in own if _norm(f["name"]) in gold_names]
    others = [f for f in own if _norm(f["name"]) not in gold_names]
    rng.shuffle(others)
    chosen = (gold + others)[:max(n, len(gold))]
    taken = {_norm(f["name"]) for f in own}
    pool = [f for f in library if _norm(f["name"]) not in taken]
    chosen += rng.sample(pool, max(0, n - len(chosen)))
    rng.shuffle(chosen)
    return chosen


def build_cells(sizes: list[int], views: list[str], top_k: int, free_sizes: list[int],
                regimes: list[str]) -> list[tuple[int, str, str]]:
    """(N, view, regime) cells to run; retrieval only where N > top_k (else it shows every tool);
    ``free`` only at ``free_sizes``."""
    return [(n, v, r) for n in sizes for v in views for r in regimes
            if not (v == "retrieval" and n <= top_k) and (r != "free" or n in free_sizes)]


def _score(result: Any, item: dict, schemas: dict[str, dict], original: dict[str, str]) -> dict:
    from structcall.experiments.verifier import ast_match

    calls = [(original.get(c.name, c.name), c.arguments) for c in result.tool_calls]
    gold = sorted(next(iter(g)) for g in item["ground_truth"])
    valid = result.ok and bool(calls)
    ast = False
    if valid:
        ast, _, _ = ast_match(calls, item["ground_truth"], schemas)
    return {"valid": valid, "name": valid and sorted(n for n, _ in calls) == gold, "ast": bool(ast)}


def run(args: argparse.Namespace) -> dict:
    import torch

    from structcall.decoding import generate
    from structcall.models import load_model
    from structcall.retrieval import ToolLibrary
    from structcall.signatures import tool_list_tokens
    from structcall.tools import normalize_tools

    torch.set_num_threads(args.threads)
    items_all = bfcl_multiple_items()
    rng = random.Random(args.seed)
    items = rng.sample(items_all, min(args.limit, len(items_all)))
    library, dropped = bfcl_library()
    t0 = time.perf_counter()
    model, tok = load_model(args.model)
    log(f"{args.model} loaded in {time.perf_counter() - t0:.0f} s; {len(items)} questions, "
        f"{len(library)} BFCL functions to draw distractors from ({len(dropped)} rejected: {dropped})")
    context = int(getattr(model.config, "max_position_embeddings", 0) or 0)

    # prompt tokens of the tool list per view (what compact prompts save), on these tool sets
    token_rows = []
    for n in args.sizes:
        per = {v: [] for v in ("full", "compact", "names")}
        for item in items:
            tools = tool_sets(item, library, n, seed=args.seed)
            for v in per:
                per[v].append(tool_list_tokens(tok, tools, v))
        row = {"tools": n, **{f"{v}_tokens": sum(x) / len(x) for v, x in per.items()}}
        row["compact_saving"] = 1 - row["compact_tokens"] / row["full_tokens"]
        row["names_saving"] = 1 - row["names_tokens"] / row["full_tokens"]
        token_rows.append(row)
        log(f"tool-list tokens at {n:>3} tools: full {row['full_tokens']:.0f}, compact {row['compact_tokens']:.0f} "
            f"({100 * row['compact_saving']:.0f}% saved), names {row['names_tokens']:.0f} "
            f"({100 * row['names_saving']:.0f}% saved)")

    rows: list[dict] = []
    skipped: list[dict] = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done: set[tuple] = set()
    if args.resume:
        rows, done = previous_rows(out, args, [i["id"] for i in items])
        log(f"--resume: {len(rows)} rows kept from {out / 'items.jsonl'}")
    items_file = (out / "items.jsonl").open("a" if args.resume else "w")
    started = time.perf_counter()
    def need(n: int, view: str) -> float:
        t = next(r for r in token_rows if r["tools"] == n)
        return t["compact_tokens"] if view == "compact" else t["full_tokens"] * (min(args.top_k, n) / n if view == "retrieval" else 1)

    cells = []
    for n, view, regime in sorted(build_cells(args.sizes, args.views, args.top_k, args.free_sizes, args.regimes),
                                  key=lambda c: (need(c[0], c[1]), c[0], c[2])):
        if context and need(n, view) + 400 + args.max_new_tokens > context:
            skipped.append({"tools": n, "view": view, "regime": regime,
                            "why": f"the tool list alone averages {need(n, view):.0f} tokens; context is {context}"})
            log(f"skip {view} at {n} tools: {skipped[-1]['why']}")
        elif view == "full" and args.full_max and n > args.full_max:
            skipped.append({"tools": n, "view": view, "regime": regime,
                            "why": f"--full-max {args.full_max}: ~{need(n, view):.0f}-token tool list, too slow here"})
            log(f"skip {view} at {n} tools: {skipped[-1]['why']}")
        else:
            cells.append((n, view, regime))
    # --order cell: every question of a cell, cheapest cell first; --order question: each question
    # through every cell before the next one, so a stopped run leaves every cell with the same
    # questions (give or take the one in progress)
    if args.order == "question":
        jobs = [(item, cell) for item in items for cell in cells]
    else:
        jobs = [(item, cell) for cell in cells for item in items]
    stop = {"why": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["why"] = f"stopped by signal {signum}"
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for item, (n, view, regime) in jobs:
            if (n, view, regime, item["id"]) in done:
                continue
            tools = tool_sets(item, library, n, seed=args.seed)
            specs = normalize_tools(tools)
            opts: dict[str, Any] = {"tool_choice": "required", "parallel_tool_calls": False, "backend": "llguidance",
                                    "constrained": regime == "constrained", "max_new_tokens": args.max_new_tokens,
                                    "fast_forward": False}
            if view == "retrieval":
                opts.update(top_k=args.top_k)
                tools_arg: Any = ToolLibrary(specs)
            else:
                opts.update(tool_prompt=view)
                tools_arg = specs
            r = generate(model, tok, item["messages"], tools_arg, **opts)
            admitted = specs if view != "retrieval" else [s for s in specs if s.name in (r.candidates or [])]
            score = _score(r, item, {s.original_name: s.parameters for s in admitted},
                           {s.name: s.original_name for s in admitted})
            gold = {_norm(next(iter(g))) for g in item["ground_truth"]}
            row = {"tools": n, "view": view, "regime": regime, "item": item["id"], **score,
                   "picked": picked_gold(r.text, item),
                   "retrieved_gold": None if r.candidates is None else bool(gold & set(r.candidates)),
                   "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                   "finish_reason": r.finish_reason, "error_kinds": r.error_kinds, "text": r.text,
                   "seconds": r.timings["total"]}
            rows.append(row)
            done.add((n, view, regime, item["id"]))
            items_file.write(json.dumps(row) + "\n")
            items_file.flush()
            cell = [x for x in rows if (x["tools"], x["view"], x["regime"]) == (n, view, regime)]
            log(f"{view:>9} {n:>3} tools {regime:>11} {item['id']}: AST {sum(x['ast'] for x in cell)}/{len(cell)}, "
                f"valid {sum(x['valid'] for x in cell)}/{len(cell)}, {row['seconds']:.0f} s "
                f"(total {time.perf_counter() - started:.0f} s)")
    except KeyboardInterrupt:
        stop["why"] = stop["why"] or "stopped by Ctrl-C"
        log(f"{stop['why']}: writing what ran")
    if stop["why"]:
        ran = {(x["tools"], x["view"], x["regime"]) for x in rows}
        skipped += [{"tools": n, "view": view, "regime": regime, "why": stop["why"]}
                    for n, view, regime in cells if (n, view, regime) not in ran]
    items_file.close()
    return {"rows": rows, "skipped": skipped, "tokens": token_rows, "items": [i["id"] for i in items],
            "context": context}


# what must match for a resumed run's rows to be comparable with the new ones
RESUME_KEYS = ("model", "seed", "top_k", "max_new_tokens")


def previous_rows(out: Path, args: argparse.Namespace, item_ids: list[str]) -> tuple[list[dict], set[tuple]]:
    """The rows an earlier run left in ``out/items.jsonl`` (for ``--resume``) and their
    (tools, view, regime, item) keys. Refuses, naming the setting, when that run's
    ``results.json`` shows other settings; rows of questions outside this run's sample are dropped."""
    path = out / "items.jsonl"
    if not path.exists():
        return [], set()
    prev = out / "results.json"
    if prev.exists():
        before = json.loads(prev.read_text()).get("args", {})
        for key in RESUME_KEYS:
            if key in before and before[key] != getattr(args, key):
                raise SystemExit(f"--resume: {prev} was run with --{key.replace('_', '-')} {before[key]!r}, "
                                 f"this run has {getattr(args, key)!r}; use the same setting or another --out")
    wanted = set(item_ids)
    rows, done = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:  # a line cut by a kill mid-write
            log(f"--resume: {path}:{lineno} is not JSON ({e.msg}); dropped")
            continue
        key = (r["tools"], r["view"], r["regime"], r["item"])
        if r["item"] in wanted and key not in done:
            rows.append(r)
            done.add(key)
    # rewrite without dropped lines, so the file and the summary agree
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows, done


_FIRST_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')


def picked_gold(text: str, item: dict) -> bool:
    """Whether the first function the output names (``"name": "..."``, complete or cut off later)
    is a gold one: which tool the model chose, apart from whether its arguments were finished."""
    m = _FIRST_NAME.search(text or "")
    gold = {_norm(next(iter(g))) for g in item["ground_truth"]}
    return bool(m) and _norm(m.group(1)) in gold


def summarise(rows: list[dict]) -> list[dict]:
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        cells.setdefault((r["tools"], r["view"], r["regime"]), []).append(r)
    out = []
    for (n, view, regime), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], VIEWS.index(kv[0][1]), kv[0][2])):
        k = len(rs)
        s = {"tools": n, "view": view, "regime": regime, "n": k}
        for m in ("valid", "picked", "name", "ast"):
            hits = sum(bool(r[m]) for r in rs)
            s[m] = hits / k
            s[f"{m}_ci"] = wilson(hits, k)
        rg = [r["retrieved_gold"] for r in rs if r["retrieved_gold"] is not None]
        s["retrieval_recall"] = sum(rg) / len(rg) if rg else None
        s["prompt_tokens"] = sum(r["prompt_tokens"] for r in rs) / k
        s["seconds"] = sum(r["seconds"] for r in rs) / k
        out.append(s)
    return out


def per_cell(result: dict) -> str:
    """How many questions each cell holds, in words."""
    ns = sorted({s["n"] for s in result["summary"]})
    if len(ns) <= 1:
        k = ns[0] if ns else len(result["items"])
        return f"{k} BFCL v4 `multiple` questions per cell (the same questions in every cell)"
    return (f"{ns[0]}-{ns[-1]} BFCL v4 `multiple` questions per cell (column n; every cell holds the first n "
            f"of the same seeded sample of {len(result['items'])})")


def to_markdown(result: dict) -> str:
    pct = lambda x: f"{100 * x:.0f}"  # noqa: E731
    lines = [f"Model: {result['model']}; {per_cell(result)}, greedy, tool_choice=required, one call, llguidance; retrieval = BM25 "
             f"top-{result['top_k']}. Machine: {result['machine']}. 95% Wilson intervals.", "",
             "`picked gold`: the first function the output names is the right one (even if the call was then "
             "cut off or invalid); `valid`: a complete call that validates; `right function`: valid and the right "
             "function; `AST correct`: BFCL's AST check.", "",
             "| tools | prompt view | regime | n | valid % | picked gold % | right function % | AST correct % [95% CI] | "
             "gold retrieved % | prompt tokens | s/question |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in result["summary"]:
        lo, hi = s["ast_ci"]
        rec = "" if s["retrieval_recall"] is None else pct(s["retrieval_recall"])
        lines.append(f"| {s['tools']} | {s['view']} | {s['regime']} | {s['n']} | {pct(s['valid'])} | {pct(s['picked'])} | {pct(s['name'])} | "
                     f"{pct(s['ast'])} [{pct(lo)}-{pct(hi)}] | {rec} | {s['prompt_tokens']:.0f} | {s['seconds']:.1f} |")
    for sk in result["skipped"]:
        lines.append(f"| {sk['tools']} | {sk['view']} | {sk['regime']} | 0 | | | | not run: {sk['why']} | | | |")
    lines += ["", "Tool-list tokens (mean over the questions' tool sets, this model's tokenizer):", "",
              "| tools | full | compact | names | compact saves | names saves |", "|---|---|---|---|---|---|"]
    for t in result["tokens"]:
        lines.append(f"| {t['tools']} | {t['full_tokens']:.0f} | {t['compact_tokens']:.0f} | {t['names_tokens']:.0f} | "
                     f"{pct(t['compact_saving'])}% | {pct(t['names_saving'])}% |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"full": "tab:blue", "compact": "tab:orange", "retrieval": "tab:green"}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for ax, (metric, title) in zip(axes, (("ast", "BFCL AST correct"), ("picked", "picked the gold function"))):
        for view in VIEWS:
            for regime, style in (("constrained", "-"), ("free", "--")):
                pts = [s for s in result["summary"] if s["view"] == view and s["regime"] == regime]
                if not pts:
                    continue
                xs = [s["tools"] * (1.04 if regime == "free" else 1) for s in pts]
                ys = [100 * s[metric] for s in pts]
                err = [[100 * (s[metric] - s[f"{metric}_ci"][0]) for s in pts],
                       [100 * (s[f"{metric}_ci"][1] - s[metric]) for s in pts]]
                ax.errorbar(xs, ys, yerr=err, fmt="o" + style, color=colours[view], capsize=3, alpha=0.85,
                            label=f"{view}, {regime}")
        ax.set_xscale("log")
        ax.set_xticks(sorted({s["tools"] for s in result["summary"]}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("tools in play (BFCL multiple + BFCL distractors)")
        ax.set_ylabel(f"{title}, % (95% CI)")
        ax.set_ylim(-5, 105)
        ns = sorted({s["n"] for s in result["summary"]})
        span = f"n={ns[0]}" if len(ns) == 1 else f"n={ns[0]}-{ns[-1]}"
        ax.set_title(f"{result['model']}, {span} per point: {title}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def log(msg: str) -> None:
    print(f"[manytools {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2", help="structcall.models.load_model source (default smollm2)")
    p.add_argument("--limit", type=int, default=20, help="BFCL questions per cell (a seeded sample)")
    p.add_argument("--sizes", type=int, nargs="+", default=[3, 10, 30, 100])
    p.add_argument("--views", nargs="+", default=list(VIEWS), choices=VIEWS)
    p.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=REGIMES)
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--full-max", type=int, default=30,
                   help="largest tool count run with full schemas (0: no cap; prompts past the context are never run)")
    p.add_argument("--free-sizes", type=int, nargs="*", default=[10],
                   help="tool counts also run without the grammar (free); default 10")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/manytools")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows of --out/items.jsonl (same model, seed, top-k, max-new-tokens) and run only "
                        "the missing (cell, question) pairs, appending; with a larger --limit, adds questions")
    p.add_argument("--order", choices=("cell", "question"), default="cell",
                   help="cell: each cell's questions together, cheapest cell first (default); question: each "
                        "question through every cell, so a stopped run leaves the cells with the same questions")
    p.add_argument("--summarise", metavar="DIR",
                   help="only re-summarise DIR (its results.json and items.jsonl) into --out; runs no model")
    args = p.parse_args(argv)
    if args.summarise:
        return resummarise(Path(args.summarise), Path(args.out))
    if args.limit < 1:
        p.error("--limit must be at least 1")
    t0 = time.perf_counter()
    res = run(args)
    import torch

    result = {"model": args.model, "top_k": args.top_k, "args": vars(args), **res, "summary": summarise(res["rows"]),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), torch {torch.__version__}, "
                         f"{args.threads} thread(s)",
              "wall_s": time.perf_counter() - t0}
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    (out / "results.md").write_text(to_markdown(result))
    if result["summary"]:
        plot(result, out / "accuracy.png")
    print(to_markdown(result))
    return result


def resummarise(src: Path, out: Path) -> dict:
    """Rebuild the summary, table and plot from a finished (or stopped) run's files."""
    result = json.loads((src / "results.json").read_text())
    items = {i["id"]: i for i in bfcl_multiple_items()}
    rows = [json.loads(line) for line in (src / "items.jsonl").read_text().splitlines() if line.strip()]
    for r in rows:
        r["picked"] = picked_gold(r["text"], items[r["item"]])
    result["summary"] = summarise(rows)
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != src.resolve():
        (out / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "results.json").write_text(json.dumps(result, indent=1))
    (out / "results.md").write_text(to_markdown(result))
    if result["summary"]:
        plot(result, out / "accuracy.png")
    print(to_markdown(result))
    return result


if __name__ == "__main__":
    main()
