"""Section 1: grammar compile time for 1 to 500 tools, cold and cached, per backend, next to
outlines' own compile of the equivalent JSON schema.

What is timed (each a separate row):

* ``structcall core``: ``compile_tools`` (normalise tools, build the grammar IR). Cold: after
  ``structcall.compile.clear_cache()``; cached: the same call again.
* ``structcall + <backend>``: the backend's own compilation of the dialect structcall emits
  (llguidance: ``LLMatcher`` over ``g.llguidance()``; outlines: outlines-core ``Index`` over
  ``g.regex()``; xgrammar: ``GrammarCompiler.compile_grammar`` over ``g.gbnf()``), including
  rendering that dialect. Cold runs in a forked child with a time limit (outlines-core can
  take minutes); ``total`` adds the core compile. Cached: what ``generate()`` pays per call
  once the grammar is compiled: ``compile_tools`` (cache hit) plus a pooled matcher.
* workload ``BFCL tools, hermes/auto/parallel`` (``library_sizes``, e.g. 100/500/1,000): the same
  rows over real BFCL v4 function docs (``benchmarks.bfcl_tools``), the grammar a large tool
  library compiles to.
* ``outlines (own JSON schema)``: outlines' own path for the same language:
  ``outlines_core.json_schema.build_regex_from_schema`` + ``Index`` over outlines' own
  vocabulary (``OutlinesCoreBackend.create_outlines_core_vocabulary``), as
  ``outlines.Generator(model, JsonSchema(...))`` does. outlines keeps no compile cache (the
  user keeps the ``Generator``), so it has no cached figure.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any, Callable

import numpy as np

from structcall.compile import clear_cache, compile_tools
from structcall.decoding import get_backend
from structcall.decoding.vocab import stop_token_ids

from benchmarks.bfcl_tools import bfcl_library
from benchmarks.timing import median, run_forked
from benchmarks.workload import call_schema, make_tools

__all__ = ["LIBRARY_WORKLOAD", "WORKLOADS", "bench_compile", "outlines_vocabulary"]

#: workload name -> compile_tools options. The first is the language outlines' JSON-schema
#: generator can also express (one call object); the second is structcall's default.
WORKLOADS: dict[str, dict[str, Any]] = {
    "json/required/1 call": {"format": "json", "tool_choice": "required", "parallel_tool_calls": False},
    "hermes/auto/parallel": {"format": "hermes", "tool_choice": "auto", "parallel_tool_calls": True},
}

#: the large-library workload: real BFCL function docs, structcall's default options
LIBRARY_WORKLOAD = "BFCL tools, hermes/auto/parallel"


def outlines_vocabulary(tokenizer: Any) -> Any:
    """outlines-core ``Vocabulary`` built the way outlines 1.x builds it for a transformers model."""
    from outlines.backends.outlines_core import OutlinesCoreBackend
    from outlines.models.transformers import TransformerTokenizer

    if tokenizer.pad_token_id is None:
        raise ValueError("give the tokenizer a pad token first (outlines would set it to EOS)")
    wrapped = TransformerTokenizer(tokenizer)
    return OutlinesCoreBackend.create_outlines_core_vocabulary(
        tokenizer.get_vocab(), tokenizer.eos_token_id, tokenizer.eos_token, wrapped.convert_token_to_string
    )


def _cold_backend(backend: Any) -> Callable[[Any], tuple[float, float]]:
    """A function timing one cold compile of a grammar by ``backend`` and the first mask of a
    fresh matcher (llguidance builds parts of its lexer lazily, at the first mask); it runs in
    a forked child, so nothing it builds outlives the measurement."""

    def run(grammar: Any) -> tuple[float, float]:
        compiler = getattr(backend, "_compiler", None)  # xgrammar keeps its own cache
        if compiler is not None and hasattr(compiler, "clear_cache"):
            compiler.clear_cache()
        t0 = time.perf_counter()
        compiled = backend._compile(grammar)  # the uncached step Backend.compile() wraps
        t1 = time.perf_counter()
        row = np.zeros((backend.info.vocab_size + 31) // 32, dtype=np.int32)
        backend._new_matcher(compiled).fill_bitmask(row)
        return t1 - t0, time.perf_counter() - t1

    return run


def _outlines_own(vocabulary: Any, schema: dict, vocab_size: int) -> Callable[[], tuple[float, float]]:
    def run() -> tuple[float, float]:
        from outlines_core import Guide, Index
        from outlines_core.json_schema import build_regex_from_schema
        from outlines_core.kernels.torch import allocate_token_bitmask, fill_next_token_bitmask

        t0 = time.perf_counter()
        regex = build_regex_from_schema(json.dumps(schema), None)
        index = Index(regex, vocabulary)
        t1 = time.perf_counter()
        fill_next_token_bitmask(Guide(index), allocate_token_bitmask(vocab_size))
        return t1 - t0, time.perf_counter() - t1

    return run


def _repeat_forked(fn: Callable[[], tuple[float, float]], repeats: int, timeout_s: float) -> dict[str, Any]:
    """Up to ``repeats`` forked runs of ``fn`` (-> compile s, first-mask s); stops early after a
    failure or a run over 2 s. ``cold_s`` is the median compile, ``first_mask_s`` the median
    first mask."""
    compiles: list[float] = []
    masks: list[float] = []
    for _ in range(repeats):
        status, value = run_forked(fn, timeout_s)
        if status != "ok":
            return {"status": status, "cold_s": None, "first_mask_s": None, "cold_runs": compiles,
                    "note": f"no result within {timeout_s:g} s" if status == "timeout" else str(value)[:300]}
        compiles.append(float(value[0]))
        masks.append(float(value[1]))
        if sum(value) > 2.0:
            break
    return {"status": "ok", "cold_s": median(compiles), "first_mask_s": median(masks), "cold_runs": compiles,
            "note": ""}


def _cached(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)  # type: ignore[return-value]


def _per_call(backend: Any, tools: list[dict], opts: dict[str, Any]) -> None:
    """What each generate() call pays once everything is compiled: a compile_tools cache hit and
    a pooled matcher."""
    grammar = compile_tools(tools, **opts)
    backend.release(grammar, backend.matchers(grammar, 1))


def _skipped(row: dict[str, Any], note: str) -> dict[str, Any]:
    return {**row, "status": "skipped", "cold_s": None, "first_mask_s": None, "cold_runs": [],
            "total_cold_s": None, "cached_s": None, "note": note}


def _fmt(cold: dict[str, Any]) -> str:
    if cold["status"] != "ok":
        return cold["status"]
    return f"cold {cold['cold_s'] * 1e3:.1f} ms + first mask {cold['first_mask_s'] * 1e3:.1f} ms"


def bench_compile(
    tokenizers: dict[str, Any],
    *,
    sizes: list[int],
    backends: list[str],
    repeats: int = 3,
    cached_repeats: int = 50,
    timeout_s: float = 20.0,
    workloads: dict[str, dict[str, Any]] | None = None,
    library_sizes: list[int] | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """One row per (tokenizer, workload, tool count, system); see the module docstring.
    ``library_sizes`` adds the BFCL-tools workload at those sizes.

    A backend that times out or fails at some size is not run on the larger sizes.
    """
    workloads = workloads or WORKLOADS
    plan = [(name, opts, sizes, make_tools) for name, opts in workloads.items()]
    if library_sizes:
        plan.append((LIBRARY_WORKLOAD, WORKLOADS["hermes/auto/parallel"], list(library_sizes),
                     lambda n: bfcl_library(n)[0]))
    rows: list[dict[str, Any]] = []
    for tok_name, tokenizer in tokenizers.items():
        stops = stop_token_ids(tokenizer)
        bes = {name: get_backend(name, tokenizer, stop_ids=stops) for name in backends}
        own_vocab = outlines_vocabulary(tokenizer)
        # first-use costs (imports, lazy tables) are not compile time: warm up on other tools
        warm = compile_tools(make_tools(1, seed=98), **WORKLOADS["json/required/1 call"])
        for opts in workloads.values():
            compile_tools(make_tools(3, seed=99), **opts)
        for be in bes.values():
            be.compile(warm)
        for wl_name, opts, wl_sizes, tools_for in plan:
            gave_up: dict[str, str] = {}
            comparable = opts["format"] == "json" and opts["tool_choice"] == "required" \
                and not opts["parallel_tool_calls"]
            for n in wl_sizes:
                tools = tools_for(n)
                base = {"tokenizer": tok_name, "vocab": len(tokenizer), "workload": wl_name, "tools": n}
                where = f"  compile {tok_name} {wl_name} {n:>3} tools:"
                core_cold = []
                for _ in range(repeats):
                    clear_cache()
                    t0 = time.perf_counter()
                    compile_tools(tools, **opts)
                    core_cold.append(time.perf_counter() - t0)
                core_cached = _cached(functools.partial(compile_tools, tools, **opts), cached_repeats)
                core_s = median(core_cold)
                rows.append({**base, "system": "structcall core", "status": "ok", "cold_s": core_s,
                             "first_mask_s": None, "cold_runs": core_cold, "total_cold_s": core_s,
                             "cached_s": core_cached, "note": ""})
                log(f"{where} core cold {core_s * 1e3:.1f} ms, cached {core_cached * 1e3:.3f} ms")
                for name, be in bes.items():
                    row = {**base, "system": f"structcall + {name}"}
                    if name in gave_up:
                        rows.append(_skipped(row, gave_up[name]))
                        continue
                    clear_cache()
                    grammar = compile_tools(tools, **opts)
                    cold = _repeat_forked(functools.partial(_cold_backend(be), grammar), repeats, timeout_s)
                    cached = None
                    if cold["status"] != "ok":
                        gave_up[name] = f"not run: {n} tools already failed ({cold['status']})"
                    elif cold["cold_s"] < 10.0:
                        be.compile(grammar)  # fill the cache once, then time the per-call path

                        cached = _cached(functools.partial(_per_call, be, tools, opts), cached_repeats)
                    else:
                        cold["note"] = "cached figure not measured (cold compile over 10 s)"
                    total = core_s + cold["cold_s"] + cold["first_mask_s"] if cold["status"] == "ok" else None
                    rows.append({**row, **cold, "total_cold_s": total, "cached_s": cached})
                    log(f"{where} {name:<10} {_fmt(cold)}" + (f", cached {cached * 1e3:.3f} ms" if cached else ""))
                if comparable:
                    row = {**base, "system": "outlines (own JSON schema)"}
                    if "outlines-own" in gave_up:
                        rows.append(_skipped(row, gave_up["outlines-own"]))
                        continue
                    cold = _repeat_forked(_outlines_own(own_vocab, call_schema(tools), len(tokenizer)),
                                          repeats, timeout_s)
                    if cold["status"] != "ok":
                        gave_up["outlines-own"] = f"not run: {n} tools already failed ({cold['status']})"
                    total = cold["cold_s"] + cold["first_mask_s"] if cold["status"] == "ok" else None
                    rows.append({**row, **cold, "total_cold_s": total, "cached_s": None,
                                 "note": cold["note"] or "outlines has no compile cache (keep the Generator)"})
                    log(f"{where} outlines own {_fmt(cold)}")
    return rows
