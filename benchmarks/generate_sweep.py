"""Validity sweep for ``structcall.generate``: hundreds of sampled generations per model.

Every format x tool_choice x parallel setting x backend, sampled at temperature 1.0, with the
random-weight tiny Llama or SmolLM2-135M-Instruct; the same prompts are also decoded without
constraints (``constrained=False``) to report their error kinds. Prints a Markdown table and
writes every output to JSON.

    python -m benchmarks.generate_sweep --model tiny --n 8
    python -m benchmarks.generate_sweep --model smollm2 --n 3 --backends llguidance,xgrammar

What it checks for each constrained run: parseable, schema-valid, tool_choice honoured,
``parallel_tool_calls=False`` never two calls, and no run ending at ``max_new_tokens`` inside a
call or on a whitespace run (free text in ``auto``/``none`` may be cut: it is unbounded).
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

FORMATS = ("hermes", "json", "pythonic", "mistral")
CHOICES = ("auto", "required", "none", "named")
NAMED = "search_flights"
OPENERS = {"hermes": "<tool_call>", "mistral": "[TOOL_CALLS]", "json": "{[", "pythonic": "["}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 14}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "calculate", "description": "Evaluate an arithmetic expression.",
        "parameters": {"type": "object", "properties": {
            "expression": {"type": "string"},
            "precision": {"type": "integer", "minimum": 0, "maximum": 10}},
            "required": ["expression"]}}},
    {"type": "function", "function": {
        "name": "search_flights", "description": "Search flights between two airports.",
        "parameters": {"type": "object", "properties": {
            "origin": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "IATA code"},
            "destination": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "nonstop": {"type": "boolean"},
            "max_price": {"type": "number", "minimum": 0}},
            "required": ["origin", "destination"]}}},
    {"type": "function", "function": {
        "name": "send_email", "description": "Send an email.",
        "parameters": {"type": "object", "properties": {
            "to": {"type": "string", "format": "email"},
            "subject": {"type": "string", "maxLength": 24},
            "cc": {"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 1}},
            "required": ["to", "subject"]}}},
]
ASKS = [
    "What's the weather in Paris for the next 3 days?",
    "Find a nonstop flight from SFO to JFK under 400 dollars.",
    "What is 17 * 23, to 2 decimals?",
    "Email bob@example.com that the meeting moved to Friday.",
    "Hi! How are you today?",
    "Flights from LHR to CDG, and the weather in Paris please.",
]


def _load(name: str):
    from structcall.models import build_tiny_model, load_model, train_tokenizer

    if name == "tiny":
        tok = train_tokenizer()
        return build_tiny_model(tok, hidden_size=64, num_hidden_layers=2, intermediate_size=128), tok
    return load_model("smollm2" if name == "smollm2" else name)


def _call_started(fmt: str, text: str) -> bool:
    if fmt in ("hermes", "mistral"):
        return OPENERS[fmt] in text
    return text[:1] in OPENERS[fmt]


def _row(fmt, choice, parallel, r) -> dict:
    names = [c.name for c in r.tool_calls]
    honoured = True
    if choice == "none":
        honoured = not names
    elif choice in ("required", "named"):
        honoured = bool(names) and (choice != "named" or set(names) == {NAMED})
    if not parallel and len(names) > 1:
        honoured = False
    cut = r.finish_reason == "length"
    return {
        "format": fmt, "tool_choice": choice, "parallel": parallel, "backend": r.backend,
        "text": r.text, "calls": [[c.name, c.arguments] for c in r.tool_calls],
        "error_kinds": r.error_kinds, "finish_reason": r.finish_reason,
        "ok": r.ok, "parseable": "parse" not in r.error_kinds, "honoured": honoured,
        "cut_in_call": cut and _call_started(fmt, r.text),
        "cut_on_whitespace": cut and len(r.text) - len(r.text.rstrip()) >= 8,
        "cut_in_text": cut and not _call_started(fmt, r.text),
        "completion_tokens": r.completion_tokens, "forced_tokens": r.forced_tokens,
    }


def sweep(model, tok, *, n: int, backends: list[str], max_new_tokens: int, seed: int,
          batch_size: int) -> list[dict]:
    from structcall.decoding import generate_batch
    from structcall.schema import Limits

    opts = {"max_calls": 2, "limits": Limits(max_string_length=16, max_number_digits=5, max_array_items=2)}
    cells = [(f, c, p) for f in FORMATS for c in CHOICES for p in (True, False)]
    requests, keys = [], []
    for f, c, p in cells:
        for i in range(n):
            requests.append({"messages": ASKS[(i + len(keys)) % len(ASKS)], "format": f,
                             "tool_choice": NAMED if c == "named" else c, "parallel_tool_calls": p})
            keys.append((f, c, p))
    rows: list[dict] = []
    for backend in backends + ["unconstrained"]:
        t0 = time.perf_counter()
        results = generate_batch(
            model, tok, requests, TOOLS, backend=backend if backend != "unconstrained" else "llguidance",
            constrained=backend != "unconstrained", temperature=1.0, seed=seed,
            max_new_tokens=max_new_tokens, batch_size=batch_size, **opts,
        )
        wall = time.perf_counter() - t0
        batch_rows = [_row(f, c, p, r) | {"backend": backend} for (f, c, p), r in zip(keys, results)]
        for row in batch_rows:
            row["wall_s_backend_total"] = wall
        rows += batch_rows
        done = sum(r["completion_tokens"] for r in batch_rows)
        print(f"# {backend}: {len(results)} generations, {done} tokens in {wall:.1f} s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = collections.defaultdict(list)
    for r in rows:
        groups[(r["backend"], r["format"], r["tool_choice"], r["parallel"])].append(r)
    lines = [
        "| backend | format | tool_choice | parallel | n | valid | parseable | honoured | cut in call | "
        "cut on whitespace | cut in text | calls/run | ff share | error kinds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (b, f, c, p), g in sorted(groups.items(), key=lambda kv: (kv[0][0] == "unconstrained", kv[0])):
        n = len(g)
        kinds = collections.Counter(k for r in g for k in r["error_kinds"][:1])
        tokens = sum(r["completion_tokens"] for r in g)
        ff = sum(r["forced_tokens"] for r in g) / tokens if tokens else 0.0
        lines.append(
            f"| {b} | {f} | {c} | {p} | {n} | {sum(r['ok'] for r in g)}/{n} | {sum(r['parseable'] for r in g)}/{n} "
            f"| {sum(r['honoured'] for r in g)}/{n} | {sum(r['cut_in_call'] for r in g)} | "
            f"{sum(r['cut_on_whitespace'] for r in g)} | {sum(r['cut_in_text'] for r in g)} | "
            f"{sum(len(r['calls']) for r in g) / n:.2f} | {ff:.2f} | "
            f"{', '.join(f'{k}:{v}' for k, v in kinds.most_common()) or '-'} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    out = []
    for b in sorted({r["backend"] for r in rows}):
        g = [r for r in rows if r["backend"] == b]
        n = len(g)
        valid = sum(r["ok"] and r["finish_reason"] != "length" for r in g)
        text_cut = sum(r["cut_in_text"] for r in g)
        tokens = sum(r["completion_tokens"] for r in g)
        ff = sum(r["forced_tokens"] for r in g) / tokens if tokens else 0.0
        out.append(
            f"{b}: {n} runs; valid and complete {valid}/{n}; free text cut by max_new_tokens {text_cut}; "
            f"cut inside a call {sum(r['cut_in_call'] for r in g)}; on whitespace "
            f"{sum(r['cut_on_whitespace'] for r in g)}; not honoured {n - sum(r['honoured'] for r in g)}; "
            f"parseable {sum(r['parseable'] for r in g)}/{n}; fast-forward share {ff:.2f}; "
            f"wall {g[0]['wall_s_backend_total']:.0f} s"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny' (random weights), 'smollm2', or a model path/id")
    parser.add_argument("--n", type=int, default=8, help="samples per setting (default 8)")
    parser.add_argument("--backends", default="llguidance,outlines,xgrammar")
    parser.add_argument("--max-new-tokens", type=int, default=384,
                        help="token budget (default 384: two capped calls of the tiny byte-level model fit)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    parser.add_argument("--out", default=None, help="JSON output (default bench-results/generate_sweep-<model>.json)")
    args = parser.parse_args(argv)

    import importlib.metadata as md

    import torch

    torch.set_num_threads(args.threads)
    backends = [b for b in args.backends.split(",") if b]
    t0 = time.perf_counter()
    model, tok = _load(args.model)
    load_s = time.perf_counter() - t0
    rows = sweep(model, tok, n=args.n, backends=backends, max_new_tokens=args.max_new_tokens,
                 seed=args.seed, batch_size=args.batch_size)
    print(table(rows))
    print()
    print(summary(rows))
    out = Path(args.out or f"bench-results/generate_sweep-{Path(args.model).name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    versions = {p: md.version(p) for p in ("torch", "transformers", "llguidance", "outlines_core") }
    try:
        versions["xgrammar"] = md.version("xgrammar")
    except md.PackageNotFoundError:
        pass
    out.write_text(json.dumps({
        "config": vars(args), "model_load_s": load_s, "versions": versions,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
        "rows": rows,
    }, indent=1, ensure_ascii=False))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
