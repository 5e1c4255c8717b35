"""results.json, items.jsonl, report.md and PNG plots from the per-item rows of a run."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from .attribution import COMPARISONS, attribute, constraint_effects, matrix
from .config import to_dict
from .evaluation import both_valid, metrics
from .tasks import SUBTASKS
from .verifier import FORMAT_LABELS, LABELS, SEMANTIC_LABELS

__all__ = ["write_report", "summarize", "summary_table", "versions", "hardware"]

ARM_TITLES = {"sft": "SFT", "sft_control": "SFT-control", "dpo_mixed": "DPO (mixed)", "dpo_format": "DPO (format-only)",
              "dpo_semantic": "DPO (semantic-only)", "teacher": "teacher"}


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("structcall", "torch", "transformers", "trl", "datasets", "accelerate", "tokenizers", "llguidance",
                "outlines", "outlines_core", "xgrammar", "numpy", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    if out["structcall"] == "not installed":
        import structcall

        out["structcall"] = f"{structcall.__version__} (source tree)"
    return out


def hardware() -> dict[str, Any]:
    import os

    import torch

    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                            "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    return info


def summarize(rows: list[dict], seeds: list[int], arms: list[str], *, n_boot: int = 1000) -> dict:
    """Every metric, attribution and constraint effect from the rows."""
    items = sorted({r["item"] for r in rows})
    subtask_of = {r["item"]: r["subtask"] for r in rows}
    present = [a for a in arms if any(r["arm"] == a for r in rows)]
    out: dict[str, Any] = {"metrics": {}, "per_seed": {}, "attribution": {}, "constraint_effects": {}, "both_valid": {}}
    for arm in present + (["teacher"] if any(r["arm"] == "teacher" for r in rows) else []):
        out["metrics"][arm], out["per_seed"][arm] = {}, {}
        for regime in ("free", "constrained"):
            sel = [r for r in rows if r["arm"] == arm and r["regime"] == regime]
            out["metrics"][arm][regime] = metrics(sel)
            out["per_seed"][arm][regime] = {str(s): metrics([r for r in sel if r["seed"] == s])["overall"]
                                            for s in sorted({r["seed"] for r in sel})}
    groups = {"overall": items, **{st: [i for i in items if subtask_of[i] == st] for st in SUBTASKS}}
    groups = {k: v for k, v in groups.items() if v}
    for metric in ("ast", "exec", "names"):
        y = {(arm, regime): {g: matrix(rows, arm, regime, its, seeds, metric) for g, its in groups.items()}
             for arm in present for regime in ("free", "constrained")}
        att = {}
        for treat, base in COMPARISONS:
            if treat in present and base in present:
                att[f"{treat}_vs_{base}"] = {g: attribute({k: v[g] for k, v in y.items()}, treat, base, n_boot=n_boot, seed=1)
                                             for g in groups}
        out["attribution"][metric] = att
        out["constraint_effects"][metric] = {arm: {g: constraint_effects({k: v[g] for k, v in y.items()}, arm,
                                                                         n_boot=n_boot, seed=2) for g in groups}
                                             for arm in present}
    for treat, base in COMPARISONS[:1] + COMPARISONS[3:4]:
        if treat in present and base in present:
            out["both_valid"][f"{treat}_vs_{base}"] = {
                regime: both_valid([r for r in rows if r["arm"] == base and r["regime"] == regime],
                                   [r for r in rows if r["arm"] == treat and r["regime"] == regime])
                for regime in ("free", "constrained")}
    out["hurts"] = [{"metric": m, "arm": arm, "group": g, **cell}
                    for m, per in out["constraint_effects"].items() for arm, cells in per.items()
                    for g, cell in cells.items() if cell["hurts"]]
    return out


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _ci(cell: dict, pct: bool = True) -> str:
    f = (lambda v: f"{100 * v:+.1f}") if pct else (lambda v: f"{v:.2f}")
    if cell["estimate"] is None:
        return "undefined"
    if cell["lo"] is None:
        return f(cell["estimate"])
    return f"{f(cell['estimate'])} [{f(cell['lo'])}, {f(cell['hi'])}]"


def summary_table(summary: dict) -> str:
    """The four-regime table (overall), as Markdown."""
    lines = ["| student | regime | format-valid % | AST acc % | exec acc % | acc when valid % | name acc % | format fails | semantic fails |",
             "|---|---|---|---|---|---|---|---|---|"]
    for arm, per in summary["metrics"].items():
        for regime in ("free", "constrained"):
            o = per[regime]["overall"]
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {regime} | {_pct(o['format_validity'])} | {_pct(o['ast_accuracy'])} | "
                         f"{_pct(o['exec_accuracy'])} | {_pct(o['accuracy_when_valid'])} | {_pct(o['name_accuracy'])} | {o['format_failures']} | "
                         f"{o['semantic_failures']} |")
    return "\n".join(lines)


def _subtask_table(summary: dict) -> str:
    arms = [a for a in summary["metrics"] if a != "teacher"]
    head = "| subtask | " + " | ".join(f"{ARM_TITLES[a]} free | {ARM_TITLES[a]} constr." for a in arms) + " |"
    lines = [head, "|---" * (1 + 2 * len(arms)) + "|"]
    for st in SUBTASKS:
        cells = []
        for a in arms:
            for regime in ("free", "constrained"):
                m = summary["metrics"][a][regime]["by_subtask"].get(st)
                cells.append("" if m is None else f"{_pct(m['ast_accuracy'])} ({_pct(m['format_validity'])})")
        lines.append(f"| {st} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _attribution_table(att: dict) -> str:
    lines = ["| group | gain free (pp) | gain constrained (pp) | format share | reasoning share | degenerate |",
             "|---|---|---|---|---|---|"]
    for g, a in att.items():
        lines.append(f"| {g} | {_ci(a['gain_free'])} | {_ci(a['gain_constrained'])} | {_ci(a['format_share'], False)} | "
                     f"{_ci(a['reasoning_share'], False)} | {'yes' if a['degenerate'] else 'no'} |")
    return "\n".join(lines)


def _plots(summary: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    arms = [a for a in summary["metrics"] if a != "teacher"]
    groups = ["overall", *[s for s in SUBTASKS if s in summary["metrics"][arms[0]]["free"]["by_subtask"]]]

    def acc(a, regime, g):
        m = summary["metrics"][a][regime]
        return (m["overall"] if g == "overall" else m["by_subtask"][g])["ast_accuracy"] or 0.0

    # 1. the four regimes per subtask
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(groups)), 4.2))
    width = 0.8 / (2 * len(arms))
    x = np.arange(len(groups))
    colors = plt.get_cmap("tab10")
    for i, a in enumerate(arms):
        for j, regime in enumerate(("free", "constrained")):
            k = 2 * i + j
            ax.bar(x + (k - len(arms) + 0.5) * width, [100 * acc(a, regime, g) for g in groups], width,
                   color=colors(i), alpha=0.45 if regime == "free" else 0.95, label=f"{ARM_TITLES[a]} {regime}")
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylabel("AST accuracy (%)")
    ax.set_title("Students x {free, constrained} decoding, per subtask (pale = free)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "regimes.png", dpi=110)
    plt.close(fig)
    files.append("regimes.png")

    # 2. attribution bars with intervals (headline comparison)
    att = summary["attribution"]["ast"].get("dpo_mixed_vs_sft")
    if att:
        fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(att)), 4))
        gs = list(att)
        x = np.arange(len(gs))
        for j, (key, label) in enumerate((("gain_free", "gain, free"), ("gain_constrained", "gain, constrained"))):
            est = np.array([100 * (att[g][key]["estimate"] or 0) for g in gs])
            lo = np.array([100 * (att[g][key]["lo"] if att[g][key]["lo"] is not None else 0) for g in gs])
            hi = np.array([100 * (att[g][key]["hi"] if att[g][key]["hi"] is not None else 0) for g in gs])
            ax.bar(x + (j - 0.5) * 0.38, est, 0.38, yerr=[est - lo, hi - est], capsize=3, label=label)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, gs, rotation=20, ha="right")
        ax.set_ylabel("DPO - SFT, AST accuracy (pp)")
        ax.set_title("Attribution: DPO's gain over SFT, free vs constrained (95% paired bootstrap CI)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "attribution.png", dpi=110)
        plt.close(fig)
        files.append("attribution.png")

    # 3. taxonomy stacked bars
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(arms) * 2), 5.5))
    names = [f"{ARM_TITLES[a]}\n{regime}" for a in arms for regime in ("free", "constrained")]
    bottom = np.zeros(len(names))
    cmap = plt.get_cmap("tab20")
    for k, label in enumerate(LABELS):
        vals = np.array([summary["metrics"][a][regime]["overall"]["taxonomy"][label] for a in arms
                         for regime in ("free", "constrained")], dtype=float)
        ax.bar(names, vals, bottom=bottom, color=cmap(k), label=f"{'F' if label in FORMAT_LABELS else 'S'}: {label}",
               hatch="//" if label in FORMAT_LABELS else None)
        bottom += vals
    ax.set_ylabel("failures (items x seeds)")
    ax.set_title("Failure taxonomy (F = format, hatched; S = semantic)")
    ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    plt.setp(ax.get_xticklabels(), fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "taxonomy.png", dpi=110)
    plt.close(fig)
    files.append("taxonomy.png")
    return files


def _reading(summary: dict) -> list[str]:
    """Plain sentences on what moved between SFT and each DPO arm (validity and the taxonomy)."""
    m = summary["metrics"]
    out = ["What moved (all seeds pooled):", ""]
    sft = m["sft"]
    for arm in ("dpo_mixed", "dpo_format", "dpo_semantic", "sft_control"):
        if arm not in m:
            continue
        parts = []
        for regime in ("free", "constrained"):
            a, b = sft[regime]["overall"], m[arm][regime]["overall"]
            parts.append(f"{regime}: validity {_pct(a['format_validity'])} -> {_pct(b['format_validity'])}%, "
                         f"AST {_pct(a['ast_accuracy'])} -> {_pct(b['ast_accuracy'])}%")
        ta, tb = sft["free"]["overall"]["taxonomy"], m[arm]["free"]["overall"]["taxonomy"]
        shifts = sorted(((tb[k] - ta[k], k) for k in LABELS), key=lambda x: -abs(x[0]))[:3]
        moved = ", ".join(f"{k} {d:+d}" for d, k in shifts if d)
        out.append(f"- {ARM_TITLES[arm]} vs SFT - {'; '.join(parts)}; largest free-decoding taxonomy shifts: {moved or 'none'}.")
    return out + [""]


def _markdown(run: Any, summary: dict, results: dict) -> str:
    c = run.cfg
    att = summary["attribution"]["ast"]
    head = att.get("dpo_mixed_vs_sft", {}).get("overall")
    prov = results["datasets"]
    sft_m = summary["metrics"]["sft"]["free"]["overall"]
    lines = [f"# structcall experiment report: `{c.name}`", "",
             f"Run directory `{run.dir}`; generated {time.strftime('%Y-%m-%d %H:%M:%S')}; seeds {list(c.seeds)}; "
             f"{summary['metrics']['sft']['free']['overall']['n'] // len(c.seeds)} eval items "
             f"({c.tasks.n_eval // len(SUBTASKS)} per subtask), disjoint in surface form from training.", "",
             "## Set-up", "",
             f"- Student: `{c.student.source}`" + (f" ({results['models'].get('student_parameters', 0) / 1e6:.2f}M parameters, "
                                                   f"pretrained on task {c.pretrain_on} for {c.pretrain.epochs:g} epoch(s))"
                                                   if c.student.is_tiny else "") + ".",
             f"- Teacher: {c.teacher.kind}" + (f" `{c.teacher.model.source}`, {results['teacher'].get('parameters', 0) / 1e6:.2f}M "
                                              f"parameters, {c.teacher.samples_per_prompt} samples per prompt at temperature "
                                              f"{c.teacher.temperature:g}" if c.teacher.kind == "model" else
                                              " (gold response plus verified format and semantic negatives)") +
             f"; {results['teacher'].get('correct', 0)}/{results['teacher'].get('candidates', 0)} candidates correct.",
             f"- Data: {prov['rows'].get('sft', 0)} SFT examples (verified-correct candidates; by source: "
             f"{', '.join(f'{k} {v}' for k, v in prov.get('sft_sources', {}).items())}); DPO pair pools "
             f"format {prov['pair_pool']['format']}, semantic {prov['pair_pool']['semantic']}; every DPO arm uses "
             f"**{prov['matched_pairs']} pairs** (format-only, semantic-only, mixed half/half). Rejected responses are never SFT targets.",
             f"- DPO starts from the SFT student of the same seed (reference model = that SFT student, beta {c.dpo.beta:g}). "
             "The SFT-control starts from the same SFT student and trains on the mixed arm's chosen responses for the same "
             "number of steps, batch size and learning rate, so DPO's gain is not simply more training.",
             f"- Decoding: greedy, max {c.eval.max_new_tokens} new tokens, `tool_choice=auto`, parallel calls allowed, "
             f"through `structcall.generate_batch`; free = `constrained=False` (same prompt, same settings, no mask), "
             f"constrained = grammar mask ({c.eval.backend}, fast-forward "
             f"{'on' if c.eval.fast_forward else 'off, so the mask is the only difference'}).", "",
             "## The four regimes (overall, all seeds pooled)", "", summary_table(summary), "",
             f"The SFT student under free decoding is **{_pct(sft_m['format_validity'])}% format-valid** "
             f"(AST accuracy {_pct(sft_m['ast_accuracy'])}%).", ""]
    if sft_m["format_validity"] is not None and not 0.05 <= sft_m["format_validity"] <= 0.95:
        lines += [f"**Degenerate setting**: SFT free-decoding validity is {_pct(sft_m['format_validity'])}%, outside 5-95%: "
                  "there is little format to decompose.", ""]
    lines += ["## Per subtask: AST accuracy % (format-valid %)", "", _subtask_table(summary), "",
              "## Attribution: how much of DPO's gain is format?", "",
              "gain = A(treatment) - A(baseline) in AST-accuracy points; format share = (gain_free - gain_constrained) / gain_free; "
              "reasoning share = gain_constrained / gain_free; 95% paired bootstrap intervals over items and seeds.", ""]
    if head:
        lines += [f"**Headline (DPO mixed vs SFT, overall)**: {head['note']}.", ""]
    lines += _reading(summary)
    for comp, per in att.items():
        lines += [f"### {comp} (AST accuracy)", "", _attribution_table(per), ""]
    for metric, title in (("names", "function-name accuracy (the right functions, values aside)"),
                          ("exec", "execution accuracy")):
        other = summary["attribution"][metric].get("dpo_mixed_vs_sft")
        if other:
            lines += [f"### dpo_mixed_vs_sft on {title}", "", f"Overall: {other['overall']['note']}.", "",
                      _attribution_table(other), ""]
    lines += ["## Accuracy on items where both students are format-valid", "",
              "| comparison | regime | items | baseline acc % | treatment acc % |", "|---|---|---|---|---|"]
    for comp, per in summary["both_valid"].items():
        for regime, bv in per.items():
            lines.append(f"| {comp} | {regime} | {bv['n']} | {_pct(bv['a'])} | {_pct(bv['b'])} |")
    hurts = [h for h in summary["hurts"] if h["metric"] == "ast"]
    lines += ["", "## Where constraints hurt", ""]
    if hurts:
        lines += ["A(x, constrained) < A(x, free) in these cells (AST accuracy, points; * = 95% interval excludes zero):", "",
                  "| student | group | constrained - free (pp) |", "|---|---|---|"]
        lines += [f"| {ARM_TITLES.get(h['arm'], h['arm'])} | {h['group']} | {_ci(h)}{' *' if h['significant'] else ''} |" for h in hurts]
    else:
        lines.append("Nowhere: constrained decoding is at least as accurate as free decoding for every student and subtask.")
    lines += ["", "## Failure taxonomy (counts over items x seeds)", "",
              "| student | regime | " + " | ".join(LABELS) + " |", "|---|---|" + "---|" * len(LABELS)]
    for arm, per in summary["metrics"].items():
        for regime in ("free", "constrained"):
            t = per[regime]["overall"]["taxonomy"]
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {regime} | " + " | ".join(str(t[k]) for k in LABELS) + " |")
    lines += ["", f"Format labels: {', '.join(FORMAT_LABELS)}; semantic labels: {', '.join(SEMANTIC_LABELS)}.", "",
              "## Plots", "", "![regimes](regimes.png)", "", "![attribution](attribution.png)", "", "![taxonomy](taxonomy.png)", "",
              "## Stage timings", "", "| stage | wall s | CPU s |", "|---|---|---|"]
    for name, t in results["timings"].items():
        lines.append(f"| {name} | {t['wall_s']} | {t['cpu_s']} |")
    lines += ["", f"Total wall time of computed stages: {results['total_wall_s']:.0f} s on {results['hardware']['cpu_count']} "
              f"CPU core(s){' + GPU' if results['hardware']['cuda'] else ''} (load average at report time "
              f"{results['hardware'].get('load_average', 'n/a')}).", ""]
    return "\n".join(lines)


def write_report(run: Any, rows: list[dict]) -> dict:
    c = run.cfg
    summary = summarize(rows, list(c.seeds), list(c.arms), n_boot=c.eval.bootstrap)
    prov = json.loads((run.dir / "data" / "provenance.json").read_text())
    teacher = json.loads((run.dir / "teacher" / "teacher.json").read_text())
    bases = json.loads((run.dir / "base" / "bases.json").read_text())
    train_info = {}
    for d in sorted((run.dir / "train").glob("*")):
        marker = d / "DONE.json"
        if marker.exists():
            train_info[d.name] = json.loads(marker.read_text())
    results = {
        "name": c.name, "config": to_dict(c), "versions": versions(), "hardware": hardware(), "seeds": list(c.seeds),
        "timings": run.timings, "total_wall_s": sum(t["wall_s"] for k, t in run.timings.items() if k != "report"),
        "models": bases, "teacher": teacher, "datasets": prov["stats"], "training": train_info,
        "items_file": "items.jsonl", **summary,
    }
    out = run.dir
    with (out / "items.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    results["plots"] = _plots(summary, out)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "report.md").write_text(_markdown(run, summary, results))
    return results
