"""Targets, the Markdown report and the plots, from the results dict ``run.py`` builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.timing import median

__all__ = ["evaluate_targets", "plot", "summary_table", "to_markdown"]

DEFAULT_BACKEND = "llguidance"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    if seconds < 10:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.1f} s"


def _us(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e6:.0f} µs"


def _target(name: str, scope: str, measured: float | None, threshold: float, unit: str,
            *, higher_is_better: bool = False, note: str = "") -> dict[str, Any]:
    fmt = {"s": _ms, "ratio": lambda v: "—" if v is None else f"x{v:.2f}",
           "count": lambda v: "—" if v is None else f"{v:g}"}[unit]
    if measured is None:
        return {"target": name, "scope": scope, "measured": None, "threshold": threshold, "unit": unit,
                "met": None, "verdict": "not measured" + (f" ({note})" if note else ""), "shown": "—"}
    met = measured >= threshold if higher_is_better else measured <= threshold
    if unit == "count":
        verdict = "met" if met else f"missed by {measured - threshold:g}"
    elif met:
        verdict = "met"
    else:
        factor = threshold / measured if higher_is_better else measured / threshold
        verdict = f"missed by x{factor:.2f} ({fmt(measured)} vs {fmt(threshold)})"
    if note:
        verdict += f" — {note}"
    return {"target": name, "scope": scope, "measured": measured, "threshold": threshold, "unit": unit,
            "met": met, "verdict": verdict, "shown": fmt(measured)}


def _paired_ratio(runs_a: list[dict], runs_b: list[dict]) -> float | None:
    b = {(r["rep"], r["prompt"]): r["time_s"] for r in runs_b}
    ratios = [r["time_s"] / b[(r["rep"], r["prompt"])] for r in runs_a if (r["rep"], r["prompt"]) in b]
    return median(ratios)


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and by how much it is met or missed."""
    targets: list[dict[str, Any]] = []
    label = f"structcall + {DEFAULT_BACKEND}"
    for model, e2e in results.get("e2e", {}).items():
        rows = {r["system"]: r for r in e2e["rows"]}
        for name, row in rows.items():
            if not name.startswith("structcall + ") or "no fast-forward" in name:
                continue
            targets.append(_target(
                "constrained at least as fast as unconstrained (time per call vs HF generate of the same calls)",
                f"{model}, {name}", row["time_ratio"], 1.0, "ratio"))
        for name in rows:
            if not name.startswith("structcall + ") or "no fast-forward" in name:
                continue
            ratio = _paired_ratio(e2e["runs"][name], e2e["runs"]["outlines generator"])
            targets.append(_target("faster than outlines' own generator (time per call, paired)",
                                   f"{model}, {name} / outlines", ratio, 1.0, "ratio",
                                   note="" if ratio is None or ratio < 1 else "structcall is slower"))
    compile_rows = results.get("compile", [])
    if compile_rows:
        vocab = max(r["vocab"] for r in compile_rows)
        for wl in sorted({r["workload"] for r in compile_rows}):
            sel = {r["system"]: r for r in compile_rows
                   if r["vocab"] == vocab and r["workload"] == wl and r["tools"] == 100}
            if not sel:
                continue
            tok = next(iter(sel.values()))["tokenizer"]
            core = sel.get("structcall core")
            full = sel.get(label)
            targets.append(_target("100 tools compile in 50 ms or less, cold (compile_tools)",
                                   f"{wl}, {tok}", core and core["cold_s"], 0.050, "s"))
            targets.append(_target(f"100 tools compile in 50 ms or less, cold (compile_tools + {DEFAULT_BACKEND})",
                                   f"{wl}, {tok} vocab", full and full["total_cold_s"], 0.050, "s"))
            targets.append(_target(f"100 tools under 1 ms from cache (compile_tools hit + {DEFAULT_BACKEND} matcher)",
                                   f"{wl}, {tok} vocab", full and full["cached_s"], 0.001, "s"))
    mask_rows = results.get("mask", [])
    if mask_rows:
        vocab = max(r["vocab"] for r in mask_rows)
        for r in mask_rows:
            if r["vocab"] == vocab:
                targets.append(_target(f"mask p99 under 1 ms at the {vocab}-token vocabulary (steady)",
                                       f"{r['grammar']}, {r['system']}", r["p99_steady"], 0.001, "s",
                                       note=f"p99 of all steps as measured {_ms(r['p99'])}, first mask "
                                            f"{_ms(r['first_s'])}"))
    runaway, total = 0, 0
    for e2e in results.get("e2e", {}).values():
        for r in e2e["rows"]:
            if r["system"].startswith("structcall + "):
                runaway += r["ws_runaway"]
                total += r["runs"]
    for r in results.get("batch", []):
        if r["system"].startswith("structcall + "):
            runaway += r["ws_runaway"]
            total += r["outputs"]
    if total:
        targets.append(_target("0 runs ending at the token limit because of whitespace",
                               f"all {total} structcall outputs", runaway, 0, "count"))
    return targets


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |")
    return "\n".join(lines)


def summary_table(results: dict[str, Any]) -> str:
    """The headline table (docs/benchmarks.md's): per model, each system's time per call and tokens/s
    relative to unconstrained generation of the same calls, validity and fast-forward share."""
    e2e = results.get("e2e", {})
    if not e2e:
        return ""
    models = list(e2e)
    headers = ["system"]
    for m in models:
        headers += [f"{m}: time/call", f"{m}: tok/s", f"{m}: valid calls", f"{m}: fast-forwarded"]
    wanted = ["HF generate, same length", "HF generate, free", "outlines generator"]
    for name in results.get("backends", []):
        wanted += [f"structcall + {name}, no fast-forward", f"structcall + {name}"]
    rows = []
    for system in wanted:
        row = [system]
        found = False
        for m in models:
            r = next((x for x in e2e[m]["rows"] if x["system"] == system), None)
            if r is None:
                row += ["—"] * 4
                continue
            found = True
            base = system == "HF generate, same length"
            row += [f"{_ms(r['time_s'])} (x{r['time_ratio']:.2f})",
                    f"{r['tok_per_s']:.1f} (x{r['tok_per_s_ratio']:.2f})",
                    "—" if base else f"{r['valid']}/{r['runs']}", f"{r['forced_share']:.0%}"]
        if found:
            rows.append(row)
    return _table(headers, rows)


def to_markdown(results: dict[str, Any]) -> str:
    """The whole report as Markdown (tables only; plots are separate PNG files)."""
    m = results["machine"]
    out = [
        "# structcall benchmark",
        "",
        f"Mode: **{results['mode']}**, {results['started']}, {results['duration_s']:.0f} s. "
        f"Machine: {m['cpu']}, {m['cpu_count']} CPU cores, {m['memory_gib']} GiB RAM, "
        f"{'GPU: ' + m['gpu'] if m['gpu'] else 'no GPU'}, torch threads {m['torch_threads']}, "
        f"load average at start {m['load_average']}, at end {results.get('load_average_end')}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v) + ".",
        "",
        "Figures are medians over repeated runs; ratios are paired within this run (the machine is "
        "shared and noisy, so compare ratios, not absolute times across runs).",
        "",
        "## Targets",
        "",
        _table(["target", "scope", "measured", "verdict"],
               [[t["target"], t["scope"], t["shown"], t["verdict"]] for t in results["targets"]]),
    ]
    summary = summary_table(results)
    if summary:
        out += ["", "## Summary", "", summary]
    if results.get("compile"):
        out += ["", "## 1. Grammar compile time", "",
                "Cold: after `clear_cache()`; for structcall + backend, the backend's own compilation of the "
                "emitted dialect, in a forked child with a time limit, then the first mask of a fresh matcher "
                "(llguidance builds parts of its lexer lazily there); the total adds `compile_tools`. Cached: "
                "`compile_tools` cache hit + a pooled matcher (what each `generate()` call pays). outlines "
                "(own JSON schema): `build_regex_from_schema` + `Index` on outlines' vocabulary, for the "
                "equivalent schema (json workload only; outlines keeps no compile cache).", ""]
        rows = []
        for r in results["compile"]:
            cold = _ms(r["cold_s"]) if r["status"] == "ok" else r["status"]
            rows.append([f"{r['tokenizer']} ({r['vocab']})", r["workload"], r["tools"], r["system"], cold,
                         _ms(r["first_mask_s"]), _ms(r["total_cold_s"]), _ms(r["cached_s"]), r["note"]])
        out.append(_table(["tokenizer (vocab)", "workload", "tools", "system", "cold compile (own step)",
                           "first mask", "cold total to first mask", "cached", "note"], rows))
    if results.get("mask"):
        out += ["", "## 2. Per-token mask time", "",
                "Time to fill the allowed-token bitmask at every step of canonical tokenizations of sampled "
                "valid outputs, walked through pooled matchers as the decoding loop gets them, in several "
                "passes. p50/p99/max: every step of every pass as measured; first mask: the first step on a "
                "fresh grammar (lazy set-up costs land there); p99 steady: p99 over steps of each step's "
                "fastest time in the warm passes (a step preempted once on this shared machine reads as a "
                "spike; its fastest pass is its own cost). Walks cut short: a token the mask refused "
                "(outlines' own JSON regex has no `\\uXXXX` escapes, so strings holding one end its walk).", ""]
        rows = [[r["tokenizer"], r["vocab"], r["grammar"], r["system"], _us(r["p50"]), _us(r["p99"]),
                 _us(r["max"]), _us(r["first_s"]), _us(r["p99_steady"]), r["n"], r["rejected_walks"]]
                for r in results["mask"]]
        out.append(_table(["tokenizer", "vocab", "grammar", "system", "p50", "p99", "max", "first mask",
                           "p99 steady", "steps", "walks cut short"], rows))
    for model, e2e in results.get("e2e", {}).items():
        info = results["models"][model]
        out += ["", f"## 3. End-to-end tool calls: {model}", "",
                f"{info['description']}. {len(info['prompts'])} prompts x {info['repeats']} repeats (after one "
                f"uncounted warm-up call per system), greedy, max_new_tokens={info['max_new_tokens']}. "
                "Ratios are to `HF generate, same length` "
                f"(unconstrained `model.generate` of exactly as many tokens as structcall's call, "
                f"{e2e['reference_lengths']} tokens), paired per prompt and repeat. tok/s counts every "
                "output token (fast-forwarded ones too; outlines' and HF's EOS too).", ""]
        rows = []
        for r in e2e["rows"]:
            base = r["system"] == "HF generate, same length"
            rows.append([r["system"], _ms(r["time_s"]), f"x{r['time_ratio']:.2f}", f"{r['tok_per_s']:.1f}",
                         f"x{r['tok_per_s_ratio']:.2f}", f"{r['tokens']:g}", f"{r['forced_share']:.0%}",
                         "—" if base else f"{r['valid']}/{r['runs']}", "—" if base else r["length"],
                         "—" if base else r["ws_runaway"],
                         _us(r["mask_per_token_s"]) if r["mask_per_token_s"] is not None else "—"])
        out.append(_table(["system", "time/call", "time ratio", "tok/s", "tok/s ratio", "tokens", "fast-forwarded",
                           "valid", "hit limit", "whitespace runaway", "mask/sampled token"], rows))
        out += ["", "`mask/sampled token`: the decoding loop's whole masking step (bitmask fill, unpacking, "
                "masking the logits), per sampled token. Sample outputs:", ""]
        out += [f"- {r['system']}: `{json.dumps(r['example'][:100], ensure_ascii=False)}`" for r in e2e["rows"]
                if r["system"] in ("HF generate, free", "outlines generator", f"structcall + {DEFAULT_BACKEND}")]
    if results.get("batch"):
        out += ["", "## 4. Batch scaling", "",
                "One batch of N conversations (the prompts repeated). HF generate, same length: every sequence "
                "generates as many tokens as the longest structcall call (a batch runs until its longest "
                "sequence ends, so the time per batch is comparable); ratios are to it at the same batch size. "
                "The prompts hold the tool list (`prompt_tokens` in the notes below) and a call is 25-45 tokens, "
                "most of them fast-forwarded: a structcall batch is mostly prefill, which is compute-bound on a "
                "CPU and grows with the batch, so its time per call does not drop with the batch size.", ""]
        base = "HF generate, same length"
        rows = [[r["model"], r["batch"], r["system"], _ms(r["time_s"]), f"x{r['time_ratio']:.2f}",
                 _ms(r["time_per_call_s"]), f"{r['tok_per_s']:.1f}", f"x{r['tok_per_s_ratio']:.2f}",
                 f"{r['forced_share']:.0%}", "—" if r["system"] == base else f"{r['valid']}/{r['outputs']}",
                 "—" if r["system"] == base else r["ws_runaway"]] for r in results["batch"]]
        out.append(_table(["model", "batch", "system", "time/batch", "time ratio", "time/call", "tok/s",
                           "tok/s ratio", "fast-forwarded", "valid", "whitespace runaway"], rows))
    if results.get("facts"):
        out += ["", "## Fairness checks and notes", ""]
        for k, v in results["facts"].items():
            out.append(f"- {k}: {v}")
    if results.get("profiles"):
        out += ["", "## Profiles", ""]
        for name, p in results["profiles"].items():
            out.append(f"- {name}: `{p['file']}` — top by own time: " + "; ".join(p["top"][:6]))
    return "\n".join(out) + "\n"


_COLORS = {
    "structcall core": "tab:purple",
    "structcall + llguidance": "tab:blue",
    "structcall + outlines": "tab:orange",
    "structcall + xgrammar": "tab:green",
    "outlines (own JSON schema)": "tab:red",
    "outlines generator": "tab:red",
    "HF generate, same length": "tab:gray",
}


def _color(system: str) -> str | None:
    """The same colour for a system in every plot (None: matplotlib's next one)."""
    return _COLORS.get(system)


def plot(results: dict[str, Any], out_dir: Path) -> list[str]:
    """Write compile.png, mask.png, e2e.png and batch.png (those with data); return the names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    if results.get("compile"):
        rows = results["compile"]
        vocab = max(r["vocab"] for r in rows)
        workloads = sorted({r["workload"] for r in rows})
        fig, axes = plt.subplots(1, len(workloads), figsize=(6 * len(workloads), 4), squeeze=False)
        for ax, wl in zip(axes[0], workloads):
            sel = [r for r in rows if r["vocab"] == vocab and r["workload"] == wl]
            for system in sorted({r["system"] for r in sel}):
                pts = [(r["tools"], r["total_cold_s"] * 1e3) for r in sel
                       if r["system"] == system and r["total_cold_s"]]
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=system, color=_color(system))
            default = f"structcall + {DEFAULT_BACKEND}"
            cached = [(r["tools"], r["cached_s"] * 1e3) for r in sel if r["system"] == default and r["cached_s"]]
            if cached:
                ax.plot(*zip(*cached), marker="x", linestyle="--", label=f"{default} (cached)", color=_color(default))
            ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
            ax.set(xscale="log", yscale="log", xlabel="tools", ylabel="ms (cold total)", title=f"{wl}, vocab {vocab}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "compile.png", dpi=110)
        plt.close(fig)
        written.append("compile.png")
    if results.get("mask"):
        rows = results["mask"]
        fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows) + 2), 4))
        labels = [f"{r['system'].replace('structcall + ', '')}\n{r['grammar'][:18]}\n{r['vocab']}" for r in rows]
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["p50"] * 1e6 for r in rows], width=0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], [r["p99"] * 1e6 for r in rows], width=0.4, label="p99")
        ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xticks(list(xs), labels, fontsize=6)
        ax.set(yscale="log", ylabel="µs per mask")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "mask.png", dpi=110)
        plt.close(fig)
        written.append("mask.png")
    if results.get("e2e"):
        models = list(results["e2e"])
        fig, axes = plt.subplots(1, len(models), figsize=(7 * len(models), 4), squeeze=False)
        for ax, model in zip(axes[0], models):
            rows = results["e2e"][model]["rows"]
            ys = range(len(rows))
            ax.barh(list(ys), [r["time_ratio"] for r in rows])
            for y, r in zip(ys, rows):
                if r["system"] != "HF generate, same length":
                    ax.text(r["time_ratio"], y, f" valid {r['valid']}/{r['runs']}", va="center", fontsize=7)
            ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
            ax.set_yticks(list(ys), [r["system"] for r in rows], fontsize=7)
            ax.set(xlabel="time per call / unconstrained (same length)", title=model)
        fig.tight_layout()
        fig.savefig(out_dir / "e2e.png", dpi=110)
        plt.close(fig)
        written.append("e2e.png")
    if results.get("batch"):
        rows = results["batch"]
        models = sorted({r["model"] for r in rows})
        fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4), squeeze=False)
        for ax, model in zip(axes[0], models):
            sel = [r for r in rows if r["model"] == model]
            for system in dict.fromkeys(r["system"] for r in sel):
                pts = [(r["batch"], r["time_per_call_s"] * 1e3) for r in sel if r["system"] == system]
                ax.plot(*zip(*pts), marker="o", label=system, color=_color(system))
            sizes = sorted({r["batch"] for r in sel})
            ax.set(xscale="log", xlabel="batch size", ylabel="ms per call (batch time / batch size)", title=model)
            ax.set_xticks(sizes, [str(x) for x in sizes])
            ax.minorticks_off()
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "batch.png", dpi=110)
        plt.close(fig)
        written.append("batch.png")
    return written
