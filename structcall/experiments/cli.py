"""``structcall experiment {run,report,eval}`` - the experiment's command line.

    structcall experiment run --config tiny|pilot|smol|FILE.yaml [--stage train] [--set sft.epochs=4]
    structcall experiment report RUN_DIR
    structcall experiment eval [--bfcl DIR] [--category C ...] [--per-category N] --model PATH [--model PATH2 ...] [--out DIR]

Multi-GPU training: run the same command under ``accelerate launch`` (TRL's trainers
distribute themselves), e.g. ``accelerate launch --num_processes 4 -m structcall.experiments.cli experiment
run --config structcall/experiments/configs/smol.yaml --stage train``; generation stages run on one device.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from .config import packaged_configs

    p = argparse.ArgumentParser(prog="structcall", description="structcall command line")
    sub = p.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("experiment", help="the SFT-vs-DPO function-calling experiment")
    esub = exp.add_subparsers(dest="action", required=True)

    run = esub.add_parser("run", help="run the pipeline (every stage, or up to --stage), reusing cached stages")
    run.add_argument("--config", required=True,
                     help=f"a YAML config file, or the name of a packaged config ({', '.join(packaged_configs())}: "
                          "structcall/experiments/configs/<name>.yaml)")
    run.add_argument("--run-dir", help="output directory (default: the config's run_dir)")
    run.add_argument("--stage", default="report",
                     choices=["tasks", "base", "teacher", "datasets", "train", "eval", "report"],
                     help="run the stages up to and including this one (default: report = all)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. --set sft.epochs=4 (repeatable)")
    run.add_argument("--student", help="student model: 'tiny', a Hugging Face id or folder, a .gguf file or 'smollm2'")
    run.add_argument("--teacher", help="teacher model (a model teacher), same forms as --student")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    rep = esub.add_parser("report", help="rebuild report.md, results.json and the plots of a finished run")
    rep.add_argument("run_dir")
    rep.add_argument("--no-progress", action="store_true")

    ev = esub.add_parser("eval", help="score models on BFCL data, free and constrained")
    ev.add_argument("--bfcl", help="directory with BFCL_v4_<category>.json (or v3) and possible_answer/ "
                                   "(default: the data of the installed bfcl-eval package)")
    ev.add_argument("--category", action="append", dest="categories",
                    help="a BFCL category (v3 or v4 name; repeatable; default: every known category present)")
    ev.add_argument("--per-category", type=int, default=0, help="a seeded sample of this many items per category (0 = all)")
    ev.add_argument("--format", default="hermes", help="the models' output format (a structcall format name)")
    ev.add_argument("--model", action="append", required=True, help="model path/id/.gguf/'smollm2' (repeatable)")
    ev.add_argument("--out", help="write bfcl_results.json and bfcl_items.jsonl here")
    ev.add_argument("--backend", default="llguidance")
    ev.add_argument("--max-new-tokens", type=int, default=128)
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument("--no-progress", action="store_true")
    return p


def _print_summary(results: dict) -> None:
    from .report import ARM_TITLES

    own = results["own"]
    print(f"\nstructcall experiment '{results['name']}': {len(results['seeds'])} seed(s), "
          f"total {results['total_wall_s']:.0f} s")
    print(f"{'student (own call items)':36s} {'regime':12s} {'acc%':>6s} {'valid%':>7s} {'acc|valid%':>10s} {'fmt fail%':>9s}")
    for arm, per in own["metrics"].items():
        for regime, m in per.items():
            o = m["overall"]
            f = lambda x: "n/a" if x is None else f"{100 * x:.1f}"  # noqa: E731
            print(f"{ARM_TITLES.get(arm, arm):36s} {regime:12s} {f(o['call_accuracy']):>6s} {f(o['validity']):>7s} "
                  f"{f(o['accuracy_when_valid']):>10s} {f(o['format_failure_rate']):>9s}")
    for key, g in results["gates"].items():
        value = "n/a" if g["value"] is None else f"{100 * g['value']:.1f}%"
        print(f"power gate: SFT {key.replace('_', ' ')} {value} (needs >= {100 * g['threshold']:.0f}%): "
              f"{'pass' if g['pass'] else 'FAIL'}")
    head = own["attribution"].get("dpo_vs_sft", {}).get("overall")
    if head:
        print(head["note"])


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = _parser().parse_args(argv)
    from .config import ConfigError, ExperimentConfig, load_config
    from .pipeline import Run

    try:
        if args.action == "run":
            overrides = list(args.overrides)
            if args.student:
                overrides.append(f"student.source={args.student}")
            if args.teacher:
                overrides += ["teacher.kind=model", f"teacher.model.source={args.teacher}"]
            cfg = load_config(args.config, overrides)
            run = Run(cfg, args.run_dir, progress=not args.no_progress)
            run.run(until=args.stage)
            if args.stage == "report":
                _print_summary(json.loads((run.dir / "results.json").read_text()))
                print(f"report: {run.dir / 'report.md'}")
            return 0
        if args.action == "report":
            from .config import _build

            cfg_path = Path(args.run_dir) / "config.json"
            if not cfg_path.is_file():
                raise ConfigError(f"{args.run_dir} is not a run directory (no config.json)")
            cfg = _build(ExperimentConfig, json.loads(cfg_path.read_text()), "")
            run = Run(cfg, args.run_dir, progress=not args.no_progress, reuse_only=True)
            run.report()
            _print_summary(json.loads((run.dir / "results.json").read_text()))
            print(f"report: {run.dir / 'report.md'}")
            return 0
        from .bfcl import bfcl_table, evaluate_bfcl

        result = evaluate_bfcl(args.bfcl, args.model, out=args.out, backend=args.backend,
                               max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                               progress=not args.no_progress, categories=args.categories,
                               per_category=args.per_category, format=args.format)
        print(bfcl_table(result))
        return 0
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"structcall: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
