"""Sections 3 and 4: end-to-end tool-call generation, and batch scaling.

Every system gets the same model, the same prompt text, greedy decoding and the same token
limit, and is asked for the same language: one call object ``{"name": ..., "arguments":
{...}}`` to one of :data:`benchmarks.workload.E2E_TOOLS` (structcall ``format="json",
tool_choice="required", parallel_tool_calls=False``; outlines ``JsonSchema`` of the
equivalent schema). Systems:

* ``HF generate, free``: ``model.generate`` without constraints (stops at EOS or the limit);
* ``HF generate, same length``: ``model.generate`` forced to exactly as many tokens as
  structcall's call for that prompt (the default backend's output): unconstrained
  generation of the same calls. Every ratio is to this row, paired per prompt and repeat;
* ``structcall loop, no grammar``: ``structcall.generate(constrained=False)``, the same
  decoding loop without the mask (separates the loop's own cost from the mask's);
* ``outlines generator``: ``outlines.Generator(from_transformers(model, tokenizer),
  JsonSchema(schema))``. Its sharp edges are handled so the comparison is fair: it gets the
  messages as a ``Chat`` (it applies the chat template itself; the rendered text is checked
  to equal structcall's prompt), and ``tokenizer.padding_side``, which ``from_transformers``
  sets to ``"left"``, is restored after it and set to ``"left"`` only around outlines' calls;
* ``structcall + <backend>``: ``structcall.generate`` with fast-forward on (default) and off.

Runs are interleaved (every system on a prompt before the next prompt), after one warm-up
call per system that is not counted, so a noisy machine slows every system alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from structcall import compile_tools, parse_calls
from structcall.decoding import generate, generate_batch, render_prompt
from structcall.decoding.prompt import tool_system_prompt
from structcall.decoding.vocab import stop_token_ids
from structcall.errors import ToolCallError

from benchmarks.compile_bench import WORKLOADS
from benchmarks.timing import median
from benchmarks.workload import E2E_TOOLS, call_schema

__all__ = ["E2EModel", "OPTIONS", "bench_batch", "bench_e2e"]

#: compile_tools / generate options of the end-to-end workload
OPTIONS: dict[str, Any] = dict(WORKLOADS["json/required/1 call"])
BASELINE = "HF generate, same length"
FREE = "HF generate, free"
LOOP = "structcall loop, no grammar"
OUTLINES = "outlines generator"


@dataclass
class E2EModel:
    """A model and how much to run on it."""

    name: str
    model: Any
    tokenizer: Any
    prompts: list[str]
    max_new_tokens: int
    repeats: int
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32])
    batch_repeats: int = 1


def structcall_label(backend: str, fast_forward: bool) -> str:
    return f"structcall + {backend}" + ("" if fast_forward else ", no fast-forward")


def check_output(text: str) -> tuple[bool, str]:
    """``(valid, error kind)`` of one output, by structcall's own parser and validator."""
    try:
        parse_calls(text, E2E_TOOLS, format=OPTIONS["format"], tool_choice=OPTIONS["tool_choice"],
                    parallel_tool_calls=OPTIONS["parallel_tool_calls"])
        return True, ""
    except ToolCallError as exc:
        return False, exc.kind


def whitespace_runaway(text: str, finish: str) -> bool:
    """Ended at the token limit while emitting only whitespace (the last 8 characters)."""
    return finish == "length" and bool(text) and not text[-8:].strip()


def _run(text: str, seconds: float, tokens: int, finish: str, forced: int = 0, **extra: Any) -> dict[str, Any]:
    valid, kind = check_output(text)
    return {"time_s": seconds, "tokens": tokens, "forced": forced, "valid": valid, "error": kind,
            "finish": finish, "ws_runaway": whitespace_runaway(text, finish), "text": text[:200], **extra}


class _Recorder:
    """A stopping criterion that never stops: it keeps the last ``input_ids`` of a generate()
    call, so the tokens outlines generated can be counted exactly (it returns only text)."""

    def __init__(self) -> None:
        self.first_width: int | None = None
        self.last: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        if self.first_width is None:
            self.first_width = input_ids.shape[1] - 1
        self.last = input_ids
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def counts(self, stops: tuple[int, ...]) -> list[tuple[int, str]]:
        """``(tokens generated, finish)`` per row, the stop token included when generated."""
        assert self.last is not None and self.first_width is not None
        out = []
        for row in self.last[:, self.first_width:].tolist():
            ends = [i for i, t in enumerate(row) if t in stops]
            out.append((ends[0] + 1, "stop") if ends else (len(row), "length"))
        return out


class Systems:
    """Every system of the comparison, set up once for one model."""

    def __init__(self, m: E2EModel, backends: list[str]):
        from transformers import GenerationConfig

        self.m = m
        self.backends = backends
        tok = m.tokenizer
        self.stops = stop_token_ids(tok, m.model)
        self.grammar = compile_tools(E2E_TOOLS, **OPTIONS)
        self.prompt_text = [render_prompt(tok, p, self.grammar) for p in m.prompts]
        self.chats = [[{"role": "system", "content": tool_system_prompt(self.grammar)},
                       {"role": "user", "content": p}] for p in m.prompts]
        self._config = lambda **kw: GenerationConfig(
            do_sample=False, eos_token_id=list(self.stops), pad_token_id=tok.pad_token_id,
            **{"max_new_tokens": m.max_new_tokens, **kw})
        self.gen_config = self._config()
        self.facts: dict[str, Any] = {}
        self._outlines_setup()

    # -- outlines
    def _outlines_setup(self) -> None:
        import outlines
        from outlines.inputs import Chat
        from outlines.types import JsonSchema

        tok = self.m.tokenizer
        side = tok.padding_side
        t0 = time.perf_counter()
        self.om = outlines.from_transformers(self.m.model, tok)
        self.ogen = outlines.Generator(self.om, JsonSchema(call_schema(E2E_TOOLS)))
        self.facts["outlines_generator_build_s"] = time.perf_counter() - t0
        changed = tok.padding_side != side
        self.facts["outlines_changed_padding_side"] = f"{side} -> {tok.padding_side}" if changed else "no"
        tok.padding_side = side
        self.Chat = Chat
        rendered = [self.om.type_adapter.format_input(Chat(c)) for c in self.chats]
        if rendered != self.prompt_text:
            raise RuntimeError("outlines renders a different prompt text than structcall; the comparison "
                               "would not be fair")
        ours = [tok(t, add_special_tokens=False)["input_ids"] for t in self.prompt_text]
        theirs = [tok(t)["input_ids"] for t in self.prompt_text]  # outlines adds special tokens
        self.facts["outlines_prompt_text_identical"] = True
        self.facts["prompt_tokens"] = [len(ids) for ids in ours]
        self.facts["outlines_prompt_ids_identical"] = ours == theirs

    def _with_left_padding(self, fn: Callable[[], Any]) -> Any:
        tok = self.m.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        try:
            return fn()
        finally:
            tok.padding_side = side

    def outlines(self, i: int) -> dict[str, Any]:
        rec = _Recorder()
        from transformers import StoppingCriteriaList

        def call() -> str:
            return self.ogen(self.Chat(self.chats[i]), generation_config=self.gen_config,
                             stopping_criteria=StoppingCriteriaList([rec]))

        t0 = time.perf_counter()
        text = self._with_left_padding(call)
        dt = time.perf_counter() - t0
        tokens, finish = rec.counts(self.stops)[0]
        return _run(text, dt, tokens, finish)

    def outlines_batch(self, idx: list[int]) -> list[dict[str, Any]]:
        rec = _Recorder()
        from transformers import StoppingCriteriaList

        def call() -> list[str]:
            return self.ogen.batch([self.Chat(self.chats[i]) for i in idx], generation_config=self.gen_config,
                                   stopping_criteria=StoppingCriteriaList([rec]))

        t0 = time.perf_counter()
        texts = self._with_left_padding(call)
        dt = time.perf_counter() - t0
        return [_run(t, dt, n, f) for t, (n, f) in zip(texts, rec.counts(self.stops), strict=True)]

    # -- plain transformers
    def hf(self, i: int, length: int | None = None) -> dict[str, Any]:
        tok = self.m.tokenizer
        t0 = time.perf_counter()
        text = render_prompt(tok, self.m.prompts[i], self.grammar)
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        config = self._config(min_new_tokens=length, max_new_tokens=length) if length else self.gen_config
        with torch.inference_mode():
            out = self.m.model.generate(**ids, generation_config=config)
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        stop_at = next((k for k, t in enumerate(new) if t in self.stops), None)
        body = new if stop_at is None else new[:stop_at]
        text = tok.decode(body, skip_special_tokens=True)
        dt = time.perf_counter() - t0
        return _run(text, dt, len(new), "stop" if stop_at is not None else "length")

    def hf_batch(self, idx: list[int], length: int) -> list[dict[str, Any]]:
        tok = self.m.tokenizer

        def call() -> Any:
            texts = [render_prompt(tok, self.m.prompts[i], self.grammar) for i in idx]
            ids = tok(texts, add_special_tokens=False, return_tensors="pt", padding=True)
            config = self._config(min_new_tokens=length, max_new_tokens=length)
            with torch.inference_mode():
                return ids, self.m.model.generate(**ids, generation_config=config)

        t0 = time.perf_counter()
        ids, out = self._with_left_padding(call)
        texts = tok.batch_decode(out[:, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        dt = time.perf_counter() - t0
        return [_run(t, dt, length, "length") for t in texts]

    # -- structcall
    def structcall(self, i: int, backend: str, fast_forward: bool, constrained: bool = True) -> dict[str, Any]:
        t0 = time.perf_counter()
        r = generate(self.m.model, self.m.tokenizer, self.m.prompts[i], E2E_TOOLS, backend=backend,
                     fast_forward=fast_forward, constrained=constrained,
                     max_new_tokens=self.m.max_new_tokens, **OPTIONS)
        dt = time.perf_counter() - t0
        finish = "length" if r.stop == "length" else r.stop
        sampled = max(r.completion_tokens - r.forced_tokens, 1)
        return _run(r.text, dt, r.completion_tokens, finish, forced=r.forced_tokens,
                    mask_per_token_s=r.timings["mask"] / sampled, forward_passes=r.timings["forward_passes"])

    def structcall_batch(self, idx: list[int], backend: str, fast_forward: bool) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        results = generate_batch(self.m.model, self.m.tokenizer, [self.m.prompts[i] for i in idx], E2E_TOOLS,
                                 backend=backend, fast_forward=fast_forward, batch_size=len(idx),
                                 max_new_tokens=self.m.max_new_tokens, **OPTIONS)
        dt = time.perf_counter() - t0
        return [_run(r.text, dt, r.completion_tokens, r.stop, forced=r.forced_tokens) for r in results]


def _aggregate(runs: list[dict[str, Any]], base: dict[tuple[int, int], dict[str, Any]]) -> dict[str, Any]:
    """Medians of one system's runs, and its ratios to the paired baseline runs."""
    time_ratio, tps_ratio = [], []
    for r in runs:
        b = base.get((r["rep"], r["prompt"]))
        if b is None:
            continue
        time_ratio.append(r["time_s"] / b["time_s"])
        tps_ratio.append((r["tokens"] / r["time_s"]) / (b["tokens"] / b["time_s"]))
    tokens = sum(r["tokens"] for r in runs)
    masks = [r["mask_per_token_s"] for r in runs if "mask_per_token_s" in r]
    return {
        "runs": len(runs),
        "time_s": median([r["time_s"] for r in runs]),
        "tokens": median([r["tokens"] for r in runs]),
        "tok_per_s": median([r["tokens"] / r["time_s"] for r in runs]),
        "time_ratio": median(time_ratio),
        "tok_per_s_ratio": median(tps_ratio),
        "forced_share": sum(r["forced"] for r in runs) / tokens if tokens else 0.0,
        "valid": sum(r["valid"] for r in runs),
        "length": sum(r["finish"] == "length" for r in runs),
        "ws_runaway": sum(r["ws_runaway"] for r in runs),
        "errors": sorted({r["error"] for r in runs if r["error"]}),
        "mask_per_token_s": median(masks) if masks else None,
        "example": runs[0]["text"] if runs else "",
    }


def bench_e2e(m: E2EModel, systems: Systems, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Section 3 on one model: rows per system, plus the raw runs."""
    ref_backend = systems.backends[0]
    ref_len: dict[int, int] = {}
    ref_label = structcall_label(ref_backend, True)
    plan: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        (ref_label, lambda i: systems.structcall(i, ref_backend, True))]
    plan.append((BASELINE, lambda i: systems.hf(i, length=ref_len[i])))
    plan.append((FREE, lambda i: systems.hf(i)))
    plan.append((LOOP, lambda i: systems.structcall(i, ref_backend, True, constrained=False)))
    plan.append((OUTLINES, systems.outlines))
    for b in systems.backends:
        for ff in (True, False):
            if (b, ff) != (ref_backend, True):
                plan.append((structcall_label(b, ff), lambda i, b=b, ff=ff: systems.structcall(i, b, ff)))
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in plan}
    for i in range(len(m.prompts)):  # the reference lengths (greedy: the same every round)
        ref_len[i] = max(plan[0][1](i)["tokens"], 1)
    for _, fn in plan[1:]:  # warm-up, not counted: first-call costs (backend compiles, ...)
        fn(0)
    log(f"  e2e {m.name}: warm-up done, reference lengths {[ref_len[i] for i in range(len(m.prompts))]}")
    for rep in range(1, m.repeats + 1):
        for i in range(len(m.prompts)):
            for label, fn in plan:
                runs[label].append({**fn(i), "rep": rep, "prompt": i})
        log(f"  e2e {m.name}: round {rep}/{m.repeats} done")
    base = {(r["rep"], r["prompt"]): r for r in runs[BASELINE]}
    rows = []
    for label, _ in plan:
        row = {"model": m.name, "system": label, **_aggregate(runs[label], base)}
        rows.append(row)
        log(f"  e2e {m.name}: {label:<42} {row['time_s'] * 1e3:8.1f} ms/call  x{row['time_ratio']:.2f} time  "
            f"x{row['tok_per_s_ratio']:.2f} tok/s  ff {row['forced_share']:.0%}  valid {row['valid']}/{row['runs']}")
    order = [BASELINE, FREE, LOOP, OUTLINES]
    order += [structcall_label(b, ff) for b in systems.backends for ff in (False, True)]
    rows.sort(key=lambda r: order.index(r["system"]))
    return {"rows": rows, "reference_lengths": [ref_len[i] for i in range(len(m.prompts))],
            "runs": {k: v for k, v in runs.items()}}


def bench_batch(m: E2EModel, systems: Systems, ref_lengths: list[int], *,
                log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Section 4 on one model: one row per (batch size, system)."""
    length = max(ref_lengths)
    rows = []
    plan: list[tuple[str, Callable[[list[int]], list[dict[str, Any]]]]] = [
        (BASELINE, lambda idx: systems.hf_batch(idx, length)),
        (OUTLINES, systems.outlines_batch),
    ]
    for b in systems.backends:
        plan.append((structcall_label(b, True), lambda idx, b=b: systems.structcall_batch(idx, b, True)))
    for size in m.batch_sizes:
        idx = [k % len(m.prompts) for k in range(size)]
        per: dict[str, list[list[dict[str, Any]]]] = {label: [] for label, _ in plan}
        for _ in range(m.batch_repeats):
            for label, fn in plan:
                per[label].append(fn(idx))
        base_tps = [sum(r["tokens"] for r in rs) / rs[0]["time_s"] for rs in per[BASELINE]]
        base_time = [rs[0]["time_s"] for rs in per[BASELINE]]
        for label, _ in plan:
            batches = per[label]
            tps = [sum(r["tokens"] for r in rs) / rs[0]["time_s"] for rs in batches]
            flat = [r for rs in batches for r in rs]
            row = {
                "model": m.name, "batch": size, "system": label, "runs": len(batches),
                "time_s": median([rs[0]["time_s"] for rs in batches]),
                "tokens": median([sum(r["tokens"] for r in rs) for rs in batches]),
                "tok_per_s": median(tps),
                "tok_per_s_ratio": median([a / b for a, b in zip(tps, base_tps, strict=True)]),
                "time_ratio": median([rs[0]["time_s"] / b for rs, b in zip(batches, base_time, strict=True)]),
                "time_per_call_s": median([rs[0]["time_s"] / size for rs in batches]),
                "forced_share": (sum(r["forced"] for r in flat) / max(sum(r["tokens"] for r in flat), 1)),
                "valid": sum(r["valid"] for r in flat), "outputs": len(flat),
                "length": sum(r["finish"] == "length" for r in flat),
                "ws_runaway": sum(r["ws_runaway"] for r in flat),
            }
            rows.append(row)
            log(f"  batch {m.name} x{size:<2}: {label:<32} {row['time_s']:7.2f} s  x{row['time_ratio']:.2f} time  "
                f"{row['tok_per_s']:7.1f} tok/s  x{row['tok_per_s_ratio']:.2f}  valid {row['valid']}/{row['outputs']}")
    return rows
