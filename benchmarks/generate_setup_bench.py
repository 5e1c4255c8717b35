"""What ``generate()`` pays before decoding (compile the tools, render and tokenize the prompt),
with tools given as Python callables, cold against warm, measured in the same run.

Rows (median of ``--repeats`` runs each, microseconds):

* ``compile_tools, callables, cold``: the callables are normalised anew on every call (their
  identity cache cleared first; the grammar cache stays warm): what every call, retry
  attempt and batch row paid before callables were cached by identity.
* ``compile_tools, callables, warm``: the same call with the identity cache warm.
* ``compile_tools, dicts``: the same tools as OpenAI dicts (a raw-cache hit), for reference.
* ``generate setup, ...``: the whole per-call setup of ``generate`` (compile + prompt render +
  tokenize; no model call), and for ``retries=2`` three attempts: the old path compiled the
  tools at every attempt (3 cold compiles + 3 prompts), the new one compiles once.

Run: ``python -m benchmarks.generate_setup_bench [--tools 5] [--repeats 200]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Literal

from structcall import compile_tools
from structcall.compile import ToolGrammar
from structcall.decoding.generate import _Requests
from structcall.decoding.options import resolve_options
from structcall.tools import _by_id

__all__ = ["make_callables", "bench_setup"]


def make_callables(n: int) -> list[Callable[..., Any]]:
    """``n`` distinct typed, documented functions (a fresh set of objects each call)."""
    out = []
    for k in range(n):
        def tool(city: str, days: int = 1, unit: Literal["celsius", "fahrenheit"] = "celsius",
                 tags: list[str] | None = None) -> str:
            """Look something up.

            Args:
                city: the city.
                days: how many days ahead.
                unit: the temperature unit.
                tags: free labels.
            """
            return city

        tool.__name__ = tool.__qualname__ = f"lookup_{k}"
        out.append(tool)
    return out


def _median_us(fn: Callable[[], Any], repeats: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1e6


def bench_setup(tokenizer: Any, n_tools: int = 5, repeats: int = 200) -> dict[str, float]:
    fns = make_callables(n_tools)
    dicts = [s.to_openai() for s in compile_tools(fns, format="hermes").specs]
    compile_tools(dicts, format="hermes")
    opts = resolve_options("generate", {}, {"format": "hermes"})
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]

    def setup(attempts: int, per_attempt_compile: bool) -> None:
        req = _Requests("generate", tokenizer, opts)
        grammar: ToolGrammar | None = None
        for _ in range(attempts):
            if grammar is None or per_attempt_compile:
                if per_attempt_compile:
                    _by_id.clear()
                    req = _Requests("generate", tokenizer, opts)
                grammar, shown, _ = req.grammar(messages, fns, opts.grammar, opts.grammar_given)
            req.job(messages, grammar, shown)

    def cold() -> None:
        _by_id.clear()

    return {
        "compile_tools, callables, cold": _median_us(lambda: compile_tools(fns, format="hermes"), repeats, cold),
        "compile_tools, callables, warm": _median_us(lambda: compile_tools(fns, format="hermes"), repeats),
        "compile_tools, dicts": _median_us(lambda: compile_tools(dicts, format="hermes"), repeats),
        "generate setup, 1 attempt, cold": _median_us(lambda: setup(1, True), repeats),
        "generate setup, 1 attempt, warm": _median_us(lambda: setup(1, False), repeats),
        "generate setup, retries=2, compile per attempt (before)": _median_us(lambda: setup(3, True), repeats),
        "generate setup, retries=2, compile once (now)": _median_us(lambda: setup(3, False), repeats),
    }


def main(argv: list[str] | None = None) -> None:
    from benchmarks.timing import machine_info
    from structcall.models import train_tokenizer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tools", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args(argv)
    rows = bench_setup(train_tokenizer(), args.tools, args.repeats)
    print(f"generate() setup with {args.tools} callable tools, median of {args.repeats} runs; machine: {machine_info()}")
    width = max(map(len, rows))
    for name, us in rows.items():
        print(f"  {name:<{width}}  {us:9.1f} us")
    print(f"  callables cold / warm: {rows['compile_tools, callables, cold'] / rows['compile_tools, callables, warm']:.1f}x; "
          f"retries=2 before / now: {rows['generate setup, retries=2, compile per attempt (before)'] / rows['generate setup, retries=2, compile once (now)']:.1f}x")


if __name__ == "__main__":
    main()
