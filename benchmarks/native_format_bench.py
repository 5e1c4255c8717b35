"""SmolLM2 in its native tool format vs Hermes: constrained and free, at temperature 1.0.

For each format (``smollm2``: a JSON list in one ``<tool_call>`` block after SmolLM2's
documented system prompt; ``hermes``: one ``<tool_call>`` block per call after structcall's
Hermes prompt) x tool_choice (``required``, ``auto``) x parallel (on, off), the same prompts
on a BFCL-like tool set (BFCL-style docs: ``"type": "dict"``, ``float``, a dotted name) are
decoded with the grammar (llguidance) and without it. Prints a Markdown table:

* constrained: share of outputs that are complete, valid calls (``required``: at least one
  call; ``auto``: valid calls or a plain answer), outputs cut by the token limit, outputs ended
  at an exact repeat of a call (``stop == "repeat"``);
* free: share of outputs with valid calls, and parse failures, in each format.

    python -m benchmarks.native_format_bench --n 12 --out bench-results/native_format.json
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FORMATS = ("smollm2", "hermes")
CHOICES = ("required", "auto")

# BFCL-like tool docs of our own (BFCL's own spelling: "dict", "float", dotted names)
TOOLS = [
    {"name": "math.factorial", "description": "Calculate the factorial of a number.",
     "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "The number."}},
                    "required": ["number"]}},
    {"name": "get_weather", "description": "Get the current weather of a city.",
     "parameters": {"type": "dict", "properties": {
         "city": {"type": "string", "description": "The city, e.g. Boston."},
         "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit."}},
         "required": ["city"]}},
    {"name": "calculate_area", "description": "Calculate the area of a rectangle.",
     "parameters": {"type": "dict", "properties": {
         "length": {"type": "float", "description": "Length in meters."},
         "width": {"type": "float", "description": "Width in meters."}},
         "required": ["length", "width"]}},
    {"name": "convert_currency", "description": "Convert an amount from one currency to another.",
     "parameters": {"type": "dict", "properties": {
         "amount": {"type": "float", "description": "The amount."},
         "from_currency": {"type": "string", "description": "Three-letter code, e.g. USD."},
         "to_currency": {"type": "string", "description": "Three-letter code, e.g. EUR."}},
         "required": ["amount", "from_currency", "to_currency"]}},
    {"name": "find_restaurants", "description": "Find restaurants in a city by cuisine.",
     "parameters": {"type": "dict", "properties": {
         "city": {"type": "string", "description": "The city."},
         "cuisine": {"type": "string", "description": "Type of food."},
         "max_results": {"type": "integer", "description": "How many results."}},
         "required": ["city", "cuisine"]}},
]
ASKS = [
    "What is the factorial of 5?",
    "What's the weather like in Boston in fahrenheit?",
    "Find the area of a rectangle 4.5 meters long and 3 meters wide.",
    "Convert 100 USD to EUR.",
    "Find 3 Italian restaurants in Chicago.",
    "What's the weather in Paris and in Tokyo?",
    "Calculate the factorial of 7 and the factorial of 10.",
    "How much is 250 euros in Japanese yen?",
    "I need sushi places in Seattle.",
    "What is the area of a 10 by 12.5 meter room?",
    "Weather in London, celsius please.",
    "Convert 40 GBP to USD and find Thai restaurants in Denver.",
]


def run(n: int, max_new_tokens: int, seed: int, batch_size: int) -> list[dict]:
    from structcall.decoding import generate_batch
    from structcall.models import load_model
    from structcall.schema import Limits

    model, tok = load_model("smollm2")
    opts = {"max_calls": 3, "limits": Limits(max_string_length=32, max_number_digits=8)}
    cells = [(f, c, p) for f in FORMATS for c in CHOICES for p in (True, False)]
    requests, keys = [], []
    for f, c, p in cells:
        for i in range(n):
            requests.append({"messages": ASKS[i % len(ASKS)], "format": f, "tool_choice": c, "parallel_tool_calls": p})
            keys.append((f, c, p))
    rows = []
    for constrained in (True, False):
        t0 = time.perf_counter()
        results = generate_batch(model, tok, requests, TOOLS, constrained=constrained, temperature=1.0,
                                 seed=seed, max_new_tokens=max_new_tokens, batch_size=batch_size, **opts)
        wall = time.perf_counter() - t0
        print(f"# {'constrained' if constrained else 'free'}: {len(results)} generations in {wall:.0f} s", flush=True)
        for (f, c, p), r in zip(keys, results):
            rows.append({
                "format": f, "tool_choice": c, "parallel": p, "constrained": constrained,
                "text": r.text, "calls": [[x.name, x.arguments] for x in r.tool_calls],
                "ok": r.ok, "error_kinds": r.error_kinds, "finish_reason": r.finish_reason, "stop": r.stop,
                "notes": r.notes, "completion_tokens": r.completion_tokens,
            })
    return rows


def _valid(r: dict) -> bool:
    """A complete, valid output: valid calls (required: at least one), or under auto a plain
    answer that ended by itself."""
    if not r["ok"] or r["finish_reason"] == "length":
        return False
    return bool(r["calls"]) or r["tool_choice"] == "auto"


def table(rows: list[dict]) -> str:
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["format"], r["tool_choice"], r["parallel"], r["constrained"])].append(r)
    lines = ["| format | tool_choice | parallel | n | constrained: complete valid | with calls | cut by limit | "
             "ended at repeat | free: complete valid | with valid calls | parse errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in FORMATS:
        for c in CHOICES:
            for p in (True, False):
                con, free = groups[(f, c, p, True)], groups[(f, c, p, False)]
                n = len(con)
                pct = lambda xs, pred: f"{100 * sum(map(pred, xs)) / max(len(xs), 1):.0f}%"  # noqa: E731
                lines.append(
                    f"| {f} | {c} | {'on' if p else 'off'} | {n} | {pct(con, _valid)} | "
                    f"{pct(con, lambda r: bool(r['calls']) and r['ok'])} | "
                    f"{sum(r['finish_reason'] == 'length' for r in con)} | {sum(r['stop'] == 'repeat' for r in con)} | "
                    f"{pct(free, _valid)} | {pct(free, lambda r: bool(r['calls']) and r['ok'])} | "
                    f"{sum('parse' in r['error_kinds'] for r in free)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12, help="prompts per cell")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    import torch

    rows = run(a.n, a.max_new_tokens, a.seed, a.batch_size)
    print(f"SmolLM2-135M-Instruct (GGUF Q4_1 dequantized, float32), temperature 1.0, "
          f"max_new_tokens={a.max_new_tokens}, {platform.processor() or platform.machine()}, "
          f"torch threads {torch.get_num_threads()}")
    print(table(rows))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(a).items()}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
