"""results.json, items.jsonl, report.md and PNG plots from the per-item rows of a run."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from .attribution import ATTRIBUTION_REGIMES, COMPARISONS, attribute, constraint_effects, matrix
from .config import to_dict
from .evaluation import REGIMES, decision_metrics, metrics, score
from .verifier import DECISION_LABELS, FAMILIES, FORMAT_LABELS, LABELS, SEMANTIC_LABELS

__all__ = ["write_report", "summarize", "summary_table", "baseline_rows", "power_gates", "versions", "hardware"]

ARM_TITLES = {"sft": "SFT", "sft_control": "SFT-control", "dpo": "DPO (on-policy)", "dpo_format": "DPO (format-only)",
              "dpo_semantic": "DPO (semantic-only)", "teacher": "teacher", "always_text": "baseline: always text",
              "first_tool": "baseline: first tool, no arguments"}
BASELINES = ("always_text", "first_tool")
GATES = {"format_failure_rate": 0.10, "accuracy_when_valid": 0.20}


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


def baseline_rows(items: list[dict], seeds: list[int], fmt: str) -> list[dict]:
    """The two trivial policies, scored like a student in every regime (they do not depend on it):
    always answer in text; always call the first tool in context with no arguments."""
    from structcall.render import render_calls

    rows = []
    for ex in items:
        first = ex["tools"][0]
        name = (first.get("function") or first)["name"]
        texts = {"always_text": "I cannot help with that using the available tools.",
                 "first_tool": render_calls([{"name": name, "arguments": {}}], format=fmt)}
        for arm, text in texts.items():
            suite = ex.get("suite", "own")
            scored = score(text, ex, finish_reason="stop", fmt=fmt, execute=suite == "own")
            for seed in seeds:
                for regime in REGIMES:
                    rows.append({"arm": arm, "seed": seed, "regime": regime, "suite": suite, "item": ex["id"],
                                 "subtask": ex["subtask"], "expect": ex["expect"], "text": text, "finish_reason": "stop",
                                 "completion_tokens": 0, "forced_tokens": 0, **scored})
    return rows


def power_gates(m: dict) -> dict:
    """The pilot's power gates on SFT's free decoding of the own suite's call items."""
    o = m["sft"]["free"]["overall"] if "sft" in m else None
    out = {}
    for key, threshold in GATES.items():
        value = None if o is None else o[key]
        out[key] = {"value": value, "threshold": threshold, "pass": value is not None and value >= threshold}
    return out


def _groups(rows: list[dict]) -> dict[str, list[str]]:
    items = sorted({r["item"] for r in rows if r["expect"] == "call"})
    subtask_of = {r["item"]: r["subtask"] for r in rows}
    groups = {"overall": items}
    for st in sorted({subtask_of[i] for i in items}):
        groups[st] = [i for i in items if subtask_of[i] == st]
    return groups


def _block(rows: list[dict], seeds: list[int], arms: list[str], n_boot: int) -> dict:
    """Every metric for one suite: regimes, decisions, per seed, attribution and constraint effects."""
    out: dict[str, Any] = {"metrics": {}, "decisions": {}, "per_seed": {}, "attribution": {}, "effects": {}}
    present = [a for a in arms + ["teacher"] + list(BASELINES) if any(r["arm"] == a for r in rows)]
    for arm in present:
        out["metrics"][arm], out["decisions"][arm], out["per_seed"][arm] = {}, {}, {}
        for regime in REGIMES:
            sel = [r for r in rows if r["arm"] == arm and r["regime"] == regime]
            if not sel:
                continue
            out["metrics"][arm][regime] = metrics(sel)
            out["decisions"][arm][regime] = decision_metrics(sel)
            out["per_seed"][arm][regime] = {
                str(s): {**metrics([r for r in sel if r["seed"] == s])["overall"],
                         "decision": decision_metrics([r for r in sel if r["seed"] == s])}
                for s in sorted({r["seed"] for r in sel})}
    calls = [r for r in rows if r["expect"] == "call"]
    groups = _groups(calls) if calls else {}
    trained = [a for a in arms if a in present]
    y = {(arm, regime): {g: matrix(calls, arm, regime, its, seeds) for g, its in groups.items()}
         for arm in trained + [b for b in BASELINES if b in present] for regime in ATTRIBUTION_REGIMES}
    for treat, base in COMPARISONS:
        if treat in trained and base in trained:
            out["attribution"][f"{treat}_vs_{base}"] = {
                g: attribute({k: v[g] for k, v in y.items()}, treat, base, n_boot=n_boot, seed=1) for g in groups}
    for arm in trained:
        out["effects"][arm] = {regime: constraint_effects({k: v["overall"] for k, v in y.items()}, arm, regime=regime,
                                                          n_boot=n_boot, seed=2)
                               for regime in ("repaired", "constrained")} if groups else {}
    return out


def summarize(rows: list[dict], seeds: list[int], arms: list[str], *, n_boot: int = 1000) -> dict:
    """Every metric, per suite (``own``, ``bfcl``), from rows that include the baselines."""
    out = {}
    for suite in ("own", "bfcl"):
        sel = [r for r in rows if r.get("suite", "own") == suite]
        if sel:
            out[suite] = _block(sel, seeds, arms, n_boot)
    out["gates"] = power_gates(out["own"]["metrics"])
    return out


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _num(x: Any, nd: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _ci(cell: dict, pct: bool = True) -> str:
    f = (lambda v: f"{100 * v:+.1f}") if pct else (lambda v: f"{v:.2f}")
    if cell["estimate"] is None:
        return "withheld"
    if cell["lo"] is None:
        return f(cell["estimate"])
    return f"{f(cell['estimate'])} [{f(cell['lo'])}, {f(cell['hi'])}]"


def summary_table(block: dict) -> str:
    """Call items: validity x accuracy-when-valid, valid-but-wrong, format failures, repairable; all items: accuracy."""
    lines = ["| student | regime | call acc % | valid calls % | acc when valid % | valid but wrong % | format fails % | "
             "repairable % | all-item acc % |", "|---|---|---|---|---|---|---|---|---|"]
    for arm, per in block["metrics"].items():
        for regime, m in per.items():
            o = m["overall"]
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {regime} | {_pct(o['call_accuracy'])} | {_pct(o['validity'])} | "
                         f"{_pct(o['accuracy_when_valid'])} | {_pct(o['valid_but_wrong'])} | {_pct(o['format_failure_rate'])} | "
                         f"{_pct(o['repairable_rate'])} | {_pct(o['accuracy'])} |")
    return "\n".join(lines)


def _decision_table(block: dict) -> str:
    lines = ["| student | regime | hit rate % | false-alarm rate % | d' | criterion c | AUC |", "|---|---|---|---|---|---|---|"]
    for arm, per in block["decisions"].items():
        for regime, d in per.items():
            if regime == "repaired":
                continue
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {regime} | {_pct(d['hit_rate'])} | {_pct(d['false_alarm_rate'])} | "
                         f"{_num(d['d_prime'])} | {_num(d['criterion'])} | {_num(d['auc'])} |")
    return "\n".join(lines)


def _attribution_table(att: dict) -> str:
    lines = ["| group | items | gain free (pp) | gain repaired (pp) | gain constrained (pp) | format share | repair share | rest |",
             "|---|---|---|---|---|---|---|---|"]
    for g, a in att.items():
        shares = ([_ci(a["format_share"], False), _ci(a["repair_share"], False), _ci(a["rest_share"], False)]
                  if a["attributable"] else ["no gain to attribute", "", ""])
        lines.append(f"| {g} | {a['n_items']} | {_ci(a['gain_free'])} | {_ci(a['gain_repaired'])} | "
                     f"{_ci(a['gain_constrained'])} | " + " | ".join(shares) + " |")
    return "\n".join(lines)


def _subtask_table(block: dict, arms: list[str]) -> str:
    arms = [a for a in arms if a in block["metrics"]]
    head = "| subtask | " + " | ".join(f"{ARM_TITLES[a]} free / rep. / constr." for a in arms) + " |"
    lines = [head, "|---" * (1 + len(arms)) + "|"]
    subtasks = sorted({st for a in arms for st in block["metrics"][a]["free"]["by_subtask"]})
    for st in subtasks:
        cells = []
        for a in arms:
            vals = [block["metrics"][a][r]["by_subtask"].get(st, {}).get("accuracy") for r in REGIMES]
            cells.append(" / ".join(_pct(v) for v in vals))
        n = block["metrics"][arms[0]]["free"]["by_subtask"][st]["n"]
        lines.append(f"| {st} (n={n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _per_seed_table(block: dict, arms: list[str]) -> str:
    lines = ["| student | seed | free call acc % | repaired % | constrained % | free valid calls % | hit % | false alarm % |",
             "|---|---|---|---|---|---|---|---|"]
    for arm in arms:
        per = block["per_seed"].get(arm)
        if not per:
            continue
        for seed in per["free"]:
            f, rp, c = per["free"][seed], per["repaired"][seed], per["constrained"][seed]
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {seed} | {_pct(f['call_accuracy'])} | {_pct(rp['call_accuracy'])} | "
                         f"{_pct(c['call_accuracy'])} | {_pct(f['validity'])} | {_pct(f['decision']['hit_rate'])} | "
                         f"{_pct(f['decision']['false_alarm_rate'])} |")
    return "\n".join(lines)


def _taxonomy_table(block: dict) -> str:
    lines = ["| student | regime | " + " | ".join(LABELS) + " |", "|---|---|" + "---|" * len(LABELS)]
    for arm, per in block["metrics"].items():
        for regime in ("free", "constrained"):
            if regime in per:
                t = per[regime]["overall"]["taxonomy"]
                lines.append(f"| {ARM_TITLES.get(arm, arm)} | {regime} | " + " | ".join(str(t[k]) for k in LABELS) + " |")
    return "\n".join(lines)


def _plots(summary: dict, arms: list[str], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    block = summary["own"]
    files = []
    shown = [a for a in arms + list(BASELINES) if a in block["metrics"]]
    # 1. call accuracy per student and regime
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(shown)), 4))
    x = np.arange(len(shown))
    for j, regime in enumerate(REGIMES):
        vals = [100 * (block["metrics"][a][regime]["overall"]["call_accuracy"] or 0) for a in shown]
        ax.bar(x + (j - 1) * 0.27, vals, 0.27, label=regime)
    ax.set_xticks(x, [ARM_TITLES[a].replace("baseline: ", "") for a in shown], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("accuracy on call items (%)")
    ax.set_title("Call items: free, free + repair, constrained")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "regimes.png", dpi=110)
    plt.close(fig)
    files.append("regimes.png")
    # 2. the gains with intervals, per comparison
    att = {k: v["overall"] for k, v in block["attribution"].items()}
    if att:
        fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(att)), 4))
        names = list(att)
        x = np.arange(len(names))
        for j, regime in enumerate(ATTRIBUTION_REGIMES):
            cells = [att[n][f"gain_{regime}"] for n in names]
            est = np.array([100 * c["estimate"] for c in cells])
            lo = np.array([100 * c["lo"] for c in cells])
            hi = np.array([100 * c["hi"] for c in cells])
            ax.bar(x + (j - 1) * 0.27, est, 0.27, yerr=[est - lo, hi - est], capsize=3, label=regime)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, [n.replace("_vs_", " vs ") for n in names], rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("gain on call items (pp)")
        ax.set_title("Gains per regime (95% hierarchical bootstrap CI)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "attribution.png", dpi=110)
        plt.close(fig)
        files.append("attribution.png")
    # 3. error families per student (free and constrained)
    trained = [a for a in arms if a in block["metrics"]]
    names = [f"{ARM_TITLES[a]}\n{r}" for a in trained for r in ("free", "constrained")]
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(names)), 4.5))
    bottom = np.zeros(len(names))
    for fam, color in zip(FAMILIES, ("tab:red", "tab:orange", "tab:blue")):
        vals = np.array([block["metrics"][a][r]["overall"]["families"].get(fam, 0) for a in trained
                         for r in ("free", "constrained")], dtype=float)
        ax.bar(names, vals, bottom=bottom, color=color, label=fam)
        bottom += vals
    ax.set_ylabel("outputs with an error of the family (items x seeds)")
    ax.set_title("Error families (an output may count in several)")
    ax.legend()
    plt.setp(ax.get_xticklabels(), fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "taxonomy.png", dpi=110)
    plt.close(fig)
    files.append("taxonomy.png")
    return files


def _gates_lines(gates: dict) -> list[str]:
    out = ["| gate (SFT, free, own call items) | value | threshold | |", "|---|---|---|---|"]
    for key, g in gates.items():
        out.append(f"| {key.replace('_', ' ')} | {_pct(g['value'])}% | >= {_pct(g['threshold'])}% | "
                   f"{'pass' if g['pass'] else 'FAIL'} |")
    return out


def _markdown(run: Any, summary: dict, results: dict) -> str:
    c = run.cfg
    own = summary["own"]
    arms = list(c.arms)
    prov = results["datasets"]
    n_call = own["metrics"]["sft"]["free"]["overall"]["n_call"] // len(c.seeds)
    n_all = own["metrics"]["sft"]["free"]["overall"]["n"] // len(c.seeds)
    teacher = results["teacher"]
    lines = [f"# structcall experiment report: `{c.name}`", "",
             f"Run directory `{run.dir}`; generated {time.strftime('%Y-%m-%d %H:%M:%S')}; seeds {list(c.seeds)}; "
             f"own suite: {n_call} call items and {n_all - n_call} no-call items, disjoint in surface form from training"
             + (f"; BFCL v4: {summary['bfcl']['metrics'][next(iter(summary['bfcl']['metrics']))]['free']['overall']['n'] // len(c.seeds)}"
                " items" if "bfcl" in summary else "") + ".", "",
             "## Set-up", "",
             f"- Student: `{c.student.source}`" + (f" ({results['models'].get('student_parameters', 0) / 1e6:.2f}M parameters, "
                                                   f"pretrained on task {c.pretrain_on} for {c.pretrain.epochs:g} epoch(s))"
                                                   if c.student.is_tiny else "") + f"; output format `{c.format}`.",
             "- Teacher: " + (f"a model, `{c.teacher.model.source}` ({teacher.get('parameters', 0) / 1e6:.2f}M parameters), "
                              f"{c.teacher.samples_per_prompt} samples per prompt at temperature {c.teacher.temperature:g}"
                              + (" plus the gold answer" if c.teacher.include_gold else "")
                              if c.teacher.kind == "model" else "the oracle: the gold answer itself")
             + f"; {teacher.get('correct', 0)}/{teacher.get('candidates', 0)} candidates correct. No model larger than the "
             "student is available offline here, so there is no distillation from a stronger teacher (any Hugging Face "
             "model can be the teacher with `--teacher`).",
             f"- SFT: {prov['rows'].get('sft', 0)} verified-correct examples ({', '.join(f'{k} {v}' for k, v in prov.get('sft_sources', {}).items())}).",
             "- DPO (on-policy, the primary arm): pairs from the SFT student's own samples "
             f"({c.data.onpolicy_samples} per training prompt at temperature {c.data.onpolicy_temperature:g}), verified: chosen = "
             "one of its correct samples (else the gold answer), rejected = one of its real mistakes. Ablations: minimal pairs on "
             "call items, gold vs gold with one format edit (format-only) or one tool/value edit (semantic-only), same prompts and "
             "chosen side, matched counts. SFT-control: the on-policy arm's chosen sides as SFT targets. Every DPO arm and the "
             f"control start from the SFT student of the same seed and take the same number of steps; beta {c.dpo.beta:g}. "
             "Rejected responses are never SFT targets (checked).",
             f"- Decoding: greedy, max {c.eval.max_new_tokens} new tokens, `tool_choice=auto`, parallel calls allowed, "
             f"through `structcall.generate_batch`; free = no mask, repaired = the free output after the deterministic repair "
             f"(lenient parser + nearest in-context tool name), constrained = grammar mask ({c.eval.backend}, fast-forward "
             f"{'on: drafted forced tokens confirmed by the model, output identical to step-by-step decoding (benchmarks.fastforward_check), so the mask is the only difference' if c.eval.fast_forward else 'off, so the mask is the only difference'}).", "",
             "## Power gates", "", *_gates_lines(summary["gates"]), "",
             "## Call items: validity x accuracy-when-valid, per regime (all seeds pooled)", "",
             "Call accuracy = validity x accuracy-when-valid; a valid call is a parsed, schema-valid call (text replies are "
             "not valid calls). The two baselines are constant policies.", "", summary_table(own), "",
             "## The call/no-call decision (all own items)", "",
             "A call decision on a call item is a hit, on a no-call item a false alarm; d' and the criterion c use "
             "log-linear corrected rates; AUC = Phi(d'/sqrt 2). The mask under `auto` does not make this decision.", "",
             _decision_table(own), "",
             "## Attribution on call items", "",
             "gain = A(treatment) - A(baseline) in accuracy points on call items; format share = (gain_free - "
             "gain_constrained) / gain_free; repair share = (gain_free - gain_repaired) / gain_free; rest = "
             "gain_constrained / gain_free; 95% hierarchical paired bootstrap (seeds, then items). A share is printed only "
             "where the free gain's interval excludes zero.", ""]
    for comp, per in own["attribution"].items():
        lines += [f"### {comp.replace('_vs_', ' vs ')}", "", f"Overall: {per['overall']['note']}.", "", _attribution_table(per), ""]
    lines += ["## What repair and constraints change (call items, overall)", "",
              "| student | repaired - free (pp) | constrained - free (pp) |", "|---|---|---|"]
    for arm, eff in own["effects"].items():
        if eff:
            lines.append(f"| {ARM_TITLES.get(arm, arm)} | {_ci(eff['repaired'])} | {_ci(eff['constrained'])} |")
    lines += ["", "## Per subtask: accuracy % (free / repaired / constrained)", "", _subtask_table(own, arms + list(BASELINES)), "",
              "## Per seed", "", _per_seed_table(own, arms), "",
              "## Pair audit", "", "| arm | seed | pairs | prompts | call / no-call prompts | families of the rejected side | "
              "labels | chosen from |", "|---|---|---|---|---|---|---|---|"]
    for arm, seed, a in results["audits"]:
        lines.append(f"| {arm} | {seed} | {a['pairs']} | {a['prompts']} | {a['call_prompts']} / {a['no_call_prompts']} | "
                     f"{a['families']} | {a['labels']} | {a['chosen_sources']} |")
    lines += ["", "## Error taxonomy (counts over items x seeds; an output keeps every error)", "", _taxonomy_table(own), "",
              f"Format: {', '.join(FORMAT_LABELS)}; decision: {', '.join(DECISION_LABELS)}; semantic: {', '.join(SEMANTIC_LABELS)}.", ""]
    if "bfcl" in summary:
        b = summary["bfcl"]
        lines += ["## BFCL v4 (real data from the bfcl-eval package; AST rules)", "", summary_table(b), "",
                  _decision_table(b), "", "Per category: accuracy % (free / repaired / constrained)", "",
                  _subtask_table(b, arms + list(BASELINES)), ""]
        for comp, per in b["attribution"].items():
            lines += [f"BFCL {comp.replace('_vs_', ' vs ')}: {per['overall']['note']}.", ""]
    lines += ["## Plots", ""]
    for png in results.get("plots", []):  # only the plots written (no attribution plot without a comparison)
        lines += [f"![{png.removesuffix('.png')}]({png})", ""]
    lines += ["## Stage timings", "", "| stage | wall s | CPU s |", "|---|---|---|"]
    for name, t in results["timings"].items():
        last = " (resumed: the last attempt only)" if t.get("resumed") else ""
        lines.append(f"| {name}{last} | {t['wall_s']} | {t['cpu_s']} |")
    if results.get("unit_costs"):
        lines += ["", "Per-unit costs (from the timings above):", "", "| stage | unit | units | wall s / unit | CPU s / unit |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {u['unit']} | {u['units']} | {u['wall_s_per_unit']} | {u['cpu_s_per_unit']} |"
                  if not u.get("resumed") else
                  f"| {k} | {u['unit']} | {u['units']} | n/a: resumed, timed over its last attempt only | n/a |"
                  for k, u in results["unit_costs"].items()]
    lines += ["", f"Total wall time of computed stages: {results['total_wall_s']:.0f} s on {results['hardware']['cpu_count']} "
              f"CPU core(s){' + GPU' if results['hardware']['cuda'] else ''} (load average at report time "
              f"{results['hardware'].get('load_average', 'n/a')}).", ""]
    return "\n".join(lines)


def _audits(run: Any, prov: dict) -> list[tuple[str, str, dict]]:
    out = [(arm, "all", a) for arm, a in prov.get("audit", {}).items()]
    for d in sorted((run.dir / "onpolicy").glob("s*")):
        f = d / "audit.json"
        if f.exists():
            out.append(("dpo", d.name[1:], json.loads(f.read_text())["audit"]))
    return out


def unit_costs(timings: dict, training: dict, rows: list[dict], cfg: Any) -> dict:
    """Seconds per unit of work, from the stage timings: per SFT example-epoch, per DPO pair seen,
    per on-policy sample, per evaluated item and regime (wall and CPU)."""
    out: dict[str, dict] = {}
    for name, t in timings.items():
        stage, _, what = name.partition("/")
        units, unit = None, None
        if stage == "train" and what in training:
            info = training[what]
            if what.startswith("sft-"):
                units, unit = info["rows"] * max(1.0, cfg.sft.epochs), "SFT example-epoch"
            else:
                units, unit = info["steps"] * info["settings"]["batch_size"], (
                    "SFT-control example" if what.startswith("sft_control") else "DPO pair")
        elif stage == "onpolicy":
            marker = training.get(f"onpolicy-{what}")
            if marker:
                units, unit = marker["samples"], "on-policy sample"
        elif stage == "eval":
            arm, _, seed = what.rpartition("-s")
            n = sum(1 for r in rows if r["arm"] == arm and str(r["seed"]) == seed and r["regime"] in ("free", "constrained"))
            units, unit = n, "item x regime"
        if units and t.get("resumed"):  # the timing covers the last attempt only
            out[name] = {"unit": unit, "units": units, "wall_s_per_unit": None, "cpu_s_per_unit": None, "resumed": True}
        elif units:
            out[name] = {"unit": unit, "units": units, "wall_s_per_unit": round(t["wall_s"] / units, 3),
                         "cpu_s_per_unit": round(t["cpu_s"] / units, 3)}
    return out


def write_report(run: Any, rows: list[dict]) -> dict:
    from .stages import eval_items

    c = run.cfg
    items = eval_items(run)
    evaluated = {(r.get("suite", "own"), r["item"]) for r in rows}
    rows = rows + baseline_rows([ex for ex in items if (ex.get("suite", "own"), ex["id"]) in evaluated], list(c.seeds),
                                c.format)
    summary = summarize(rows, list(c.seeds), list(c.arms), n_boot=c.eval.bootstrap)
    prov = json.loads((run.dir / "data" / "provenance.json").read_text())
    teacher = json.loads((run.dir / "teacher" / "teacher.json").read_text())
    bases = json.loads((run.dir / "base" / "bases.json").read_text())
    train_info, onpolicy_info = {}, {}
    for d in sorted((run.dir / "train").glob("*")):
        marker = d / "DONE.json"
        if marker.exists():
            train_info[d.name] = json.loads(marker.read_text())
    for d in sorted((run.dir / "onpolicy").glob("s*")):
        marker = d / "DONE.json"
        if marker.exists():
            onpolicy_info[f"onpolicy-{d.name}"] = json.loads(marker.read_text())
    results = {
        "name": c.name, "config": to_dict(c), "versions": versions(), "hardware": hardware(), "seeds": list(c.seeds),
        "timings": run.timings, "total_wall_s": sum(t["wall_s"] for k, t in run.timings.items() if k != "report"),
        "models": bases, "teacher": teacher, "datasets": prov["stats"], "training": train_info,
        "audits": _audits(run, prov["stats"]), "items_file": "items.jsonl", **summary,
        "unit_costs": unit_costs(run.timings, {**train_info, **onpolicy_info}, rows, c),
    }
    out = run.dir
    with (out / "items.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    results["plots"] = _plots(summary, list(c.arms), out)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "report.md").write_text(_markdown(run, summary, results))
    return results
