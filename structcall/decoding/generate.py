"""``generate()``: a drop-in for a chat-completions call, on a local transformers model.

Three forms share one path (prompt -> grammar -> decode -> parse/validate):

* :func:`generate` - one conversation, optional retries with validation feedback;
* :func:`generate_batch` - many conversations, batched on the model (for evaluation);
* :func:`stream_generate` - text deltas, then each tool call once it is complete and valid.

``constrained=False`` runs exactly the same prompt, model and sampling without the
grammar mask and only parses and validates, so free and constrained runs differ by the
mask alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

from structcall.compile import ToolGrammar, compile_tools, normalize_tool_choice
from structcall.errors import ToolCallError
from structcall.formats import detect_format
from structcall.parse import ToolCall, parse_calls, parse_output, truncation_error
from structcall.retrieval import ToolLibrary, query_text

from structcall.decoding.backends import get_backend
from structcall.decoding.loop import DecodeStats, Sequence, decode, iter_decode
from structcall.decoding.prompt import render_prompt
from structcall.split import CallSplitter
from structcall.decoding.vocab import TokenizerInfo, stop_token_ids, tokenizer_info

__all__ = [
    "GenerationResult",
    "StreamEvent",
    "ToolCallRetryError",
    "generate",
    "generate_batch",
    "stream_generate",
]


@dataclass
class GenerationResult:
    """What one generation produced.

    Attributes:
        text: the raw output text (no stop token).
        tool_calls: the validated calls (empty when the output is text or invalid).
        errors: ``ToolCallError``s of the output (empty when valid); ``error_kinds`` flattens them.
        finish_reason: ``"tool_calls"`` (valid calls), ``"stop"`` (text answer, or invalid
            output that ended) or ``"length"`` (``max_new_tokens`` reached: the complete,
            valid calls before the cut are in ``tool_calls`` and the cut call is an error of
            kind ``truncated``).
        content: the text before the calls (the whole text for a text answer), or None.
        prompt_tokens, completion_tokens: token counts (the stop token is not counted).
        forced_tokens: completion tokens drafted from grammar-forced text and confirmed by the model
            in a multi-token forward pass (fast-forward) instead of one pass each.
        timings: seconds: ``prompt`` (render + tokenize), ``compile`` (grammar + backend,
            ~0 when cached), ``decode`` (the whole decoding batch), ``prefill``, ``mask``
            (computing and applying masks), ``parse``, ``total``; ``forward_passes`` counts
            model calls. Decode figures are per batch in :func:`generate_batch`.
        stop: how decoding ended: ``"grammar"`` (grammar complete), ``"eos"``, ``"length"``
            or ``"repeat"`` (the model repeated a call it had already made: the output was
            ended before the repeat - ``text`` stops there, with the call list closed where
            the format has one - see ``notes``; ``token_ids`` keep every sampled token).
        notes: what structcall did to the output beyond parsing it (a dropped repeat).
        attempts: earlier attempts that failed validation (``retries``), oldest first.
        candidates: with ``top_k``, the names of the tools the retriever put in the prompt
            (best first); None without retrieval.
    """

    text: str
    tool_calls: list[ToolCall]
    errors: list[ToolCallError]
    finish_reason: Literal["tool_calls", "stop", "length"]
    content: str | None
    prompt_tokens: int
    completion_tokens: int
    forced_tokens: int
    timings: dict[str, float]
    format: str
    backend: str | None
    constrained: bool
    stop: str
    notes: list[str] = field(default_factory=list)
    prompt: str = field(default="", repr=False)
    token_ids: list[int] = field(default_factory=list, repr=False)
    attempts: list["GenerationResult"] = field(default_factory=list, repr=False)
    candidates: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_kinds(self) -> list[str]:
        """Every error kind found, in the order the validator reports them."""
        return [kind for e in self.errors for kind, _, _ in e.errors]

    @property
    def fast_forward_share(self) -> float:
        """Share of completion tokens that were fast-forwarded (0.0 when none were generated)."""
        return self.forced_tokens / self.completion_tokens if self.completion_tokens else 0.0

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    @property
    def message(self) -> dict:
        """The output as an OpenAI assistant message (``role``, ``content``, ``tool_calls``)."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        return msg


class ToolCallRetryError(RuntimeError):
    """Every attempt of :func:`generate` with ``retries`` failed validation.

    ``attempts`` holds every :class:`GenerationResult`, oldest first; ``last_error`` is the
    final attempt's first ``ToolCallError``.
    """

    def __init__(self, attempts: list[GenerationResult]):
        self.attempts = list(attempts)
        lines = []
        for i, a in enumerate(self.attempts, 1):
            e = a.errors[0]
            lines.append(f"  attempt {i}: {e.kind} error at {e.pointer or '/'}: {e.message} (output {a.text[:80]!r})")
        super().__init__(f"no valid tool call after {len(self.attempts)} attempts:\n" + "\n".join(lines))

    @property
    def last_error(self) -> ToolCallError:
        return self.attempts[-1].errors[0]


@dataclass
class StreamEvent:
    """One streaming event: a ``"text"`` delta, a complete validated ``"tool_call"``, or
    ``"done"`` with the final :class:`GenerationResult`."""

    type: Literal["text", "tool_call", "done"]
    text: str = ""
    tool_call: ToolCall | None = None
    result: GenerationResult | None = None


@dataclass
class _Job:
    grammar: ToolGrammar
    prompt: str
    prompt_ids: list[int]
    prompt_s: float
    lenient: bool
    candidates: list[str] | None = None


class _RepeatWatch:
    """Watches a growing output for an exact repeat of a call already made in it."""

    def __init__(self, format: str):
        self.splitter = CallSplitter(format)
        self.seen: list[str] = []
        self.cut: int | None = None  # where the output ends when a repeat was found
        self.closer = ""  # the section's closer, written after the cut (list formats)
        self.repeat: str | None = None

    def _end_before(self, text: str, k: int) -> None:
        """Where the output ends without the repeat (call `k`): after call k-1's own closing
        tag, plus the section's closer when the calls sit in a list, so that the output
        stays complete in its format."""
        fmt = self.splitter.fmt
        cut = self.splitter.ends[k - 1]
        close = fmt.call_close.strip()
        j = cut
        while j < len(text) and text[j] in " \t\r\n":
            j += 1
        if close and text.startswith(close, j):
            cut = j + len(close)
        start = self.splitter.section_start or 0
        head = fmt.section_open.strip()
        self.closer = fmt.section_close.strip() if head and text.startswith(head, start) else ""
        self.cut = cut

    def feed(self, text: str) -> bool:
        if self.cut is not None:
            return True
        for one in self.splitter.feed(text):
            key = one.strip()
            k = len(self.seen)
            if key in self.seen:
                self._end_before(text, k)
                self.repeat = key
                return True
            self.seen.append(key)
        return False


def _options(format: str | None, tokenizer: Any) -> str:
    return format if format is not None else detect_format(tokenizer)


def _library(tools: Any, top_k: int | None, retriever: Any) -> Any:
    """``tools`` as a `ToolLibrary` when retrieval is asked for (indexed once per call of
    generate/generate_batch; pass a ToolLibrary to index once for many calls)."""
    if top_k is None:
        if retriever is not None:
            raise ValueError("retriever= needs top_k= (how many tools to put in the prompt)")
        return tools
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    if isinstance(tools, ToolLibrary):
        if retriever is not None and retriever is not tools.retriever:
            raise ValueError("retriever= is given but tools is a ToolLibrary with its own retriever")
        return tools
    return ToolLibrary(tools, retriever=retriever)


def _job(tokenizer: Any, messages: Any, tools: Any, *, format: str | None, tool_choice: Any,
         parallel_tool_calls: bool, max_calls: int | None, strict: bool, allow_think: bool,
         limits: Any, lenient: bool, tool_prompt: str = "full", top_k: int | None = None,
         restrict_to_candidates: bool = True) -> _Job:
    t0 = time.perf_counter()
    shown = None
    if isinstance(tools, ToolLibrary):
        library, tools = tools, tools.specs
        if top_k is not None:
            choice = normalize_tool_choice(tool_choice, library.specs)
            named = [choice.name] if choice.named else []
            shown = library.search(query_text(messages), top_k, include=named)
            if restrict_to_candidates:
                tools = shown
    grammar = compile_tools(
        tools, format=_options(format, tokenizer), tool_choice=tool_choice,
        parallel_tool_calls=parallel_tool_calls, max_calls=max_calls, strict=strict,
        allow_think=allow_think, limits=limits,
    )
    prompt = render_prompt(tokenizer, messages, grammar, tool_prompt=tool_prompt, shown=shown)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return _Job(grammar, prompt, list(ids), time.perf_counter() - t0, lenient,
                None if shown is None else [s.name for s in shown])


def _result(job: _Job, seq: Sequence, info: TokenizerInfo, *, backend: str | None,
            stats: DecodeStats, compile_s: float, watch: _RepeatWatch | None = None) -> GenerationResult:
    t0 = time.perf_counter()
    raw = info.decode_bytes(seq.token_ids)
    errors: list[ToolCallError] = []
    calls: list[ToolCall] = []
    notes: list[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if seq.finish == "length" and exc.reason == "unexpected end of data":
            text = raw[: exc.start].decode("utf-8", errors="replace")  # cut inside a character
        else:
            text = raw.decode("utf-8", errors="replace")
            errors.append(ToolCallError("parse", "", f"the output is not valid UTF-8 ({exc.reason} at byte {exc.start})", text=text))
    repeated = watch is not None and watch.cut is not None and seq.finish == "repeat"
    if repeated:  # the output ends before the repeat (the list closed where there is one)
        text = text[: watch.cut] + watch.closer
    content: str | None = text
    if not errors:
        # a cut output keeps its complete calls
        try:
            parsed = parse_output(text, job.grammar, lenient=job.lenient, truncated=seq.finish == "length")
            calls = parsed.calls
            content = parsed.content if calls or parsed.content != text else text
            cut = truncation_error(parsed) if seq.finish == "length" else None
            if cut is not None:
                errors.append(cut)
        except ToolCallError as exc:
            errors.append(exc)
    if repeated:
        closed = f"; closed the list with {watch.closer!r}" if watch.closer else ""
        notes.append(f"ended at an exact repeat of call {len(watch.seen)} (dropped{closed}): {watch.repeat[:80]!r}")
    if calls and not (content or "").strip():
        content = None
    if seq.finish == "length":
        finish = "length"
    elif calls and not errors:
        finish = "tool_calls"
    else:
        finish = "stop"
    parse_s = time.perf_counter() - t0
    timings = {
        "prompt": job.prompt_s,
        "compile": compile_s,
        "decode": stats.total_s,
        "prefill": stats.prefill_s,
        "mask": stats.mask_s,
        "parse": parse_s,
        "total": job.prompt_s + compile_s + stats.total_s + parse_s,
        "forward_passes": float(stats.forward_passes),
    }
    return GenerationResult(
        text=text, tool_calls=calls, errors=errors, finish_reason=finish, content=content,
        prompt_tokens=len(seq.prompt_ids), completion_tokens=len(seq.token_ids),
        forced_tokens=seq.forced, timings=timings, format=job.grammar.format,
        backend=backend, constrained=backend is not None, stop=seq.finish or "length",
        notes=notes, prompt=job.prompt, token_ids=list(seq.token_ids), candidates=job.candidates,
    )


def _sequences(model: Any, tokenizer: Any, jobs: list[_Job], *, backend: str, constrained: bool,
               seeds: list[int | None]) -> tuple[TokenizerInfo, list[Sequence], list[float], Any]:
    info = tokenizer_info(tokenizer, stop_token_ids(tokenizer, model))
    be = get_backend(backend, tokenizer, stop_ids=info.stop_ids) if constrained else None
    seqs, compile_s = [], []
    for job, seed in zip(jobs, seeds):
        t0 = time.perf_counter()
        matcher = be.matchers(job.grammar, 1)[0] if be is not None else None
        compile_s.append(time.perf_counter() - t0)
        seqs.append(Sequence(job.prompt_ids, matcher=matcher, seed=seed))
    return info, seqs, compile_s, be


def _release(be: Any, jobs: list[_Job], seqs: list[Sequence]) -> None:
    if be is not None:
        for job, seq in zip(jobs, seqs):
            be.release(job.grammar, [seq.matcher])


def _check_sampling(max_new_tokens: int, temperature: float, top_p: float) -> None:
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def _text_so_far(info: TokenizerInfo, seq: Sequence) -> str:
    raw = info.decode_bytes(seq.token_ids)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return raw[: exc.start].decode("utf-8", errors="replace")  # hold back a split character


def _run(model: Any, tokenizer: Any, jobs: list[_Job], *, backend: str, constrained: bool,
         max_new_tokens: int, temperature: float, top_p: float, seeds: list[int | None],
         fast_forward: bool, stop_on_repeat: bool = True) -> list[GenerationResult]:
    info, seqs, compile_s, be = _sequences(model, tokenizer, jobs, backend=backend,
                                           constrained=constrained, seeds=seeds)
    watches = [_RepeatWatch(job.grammar.format) if stop_on_repeat else None for job in jobs]
    stats = DecodeStats()
    try:
        for round_new in iter_decode(model, tokenizer, info, seqs, max_new_tokens=max_new_tokens,
                                     temperature=temperature, top_p=top_p,
                                     fast_forward="chunk" if fast_forward else "off", stats=stats):
            for i, _ in round_new:
                w = watches[i]
                if w is not None and w.cut is None and w.feed(_text_so_far(info, seqs[i])):
                    seqs[i].finish = "repeat"  # the decoding loop drops a finished sequence
    finally:
        _release(be, jobs, seqs)
    return [
        _result(job, seq, info, backend=backend if constrained else None, stats=stats, compile_s=c, watch=w)
        for job, seq, c, w in zip(jobs, seqs, compile_s, watches)
    ]


def generate(
    model: Any,
    tokenizer: Any,
    messages: list[dict] | str,
    tools: Any,
    *,
    tool_choice: Any = "auto",
    parallel_tool_calls: bool = True,
    format: str | None = None,
    backend: str = "llguidance",
    constrained: bool = True,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    retries: int = 0,
    fast_forward: bool = True,
    max_calls: int | None = None,
    strict: bool = False,
    allow_think: bool = False,
    limits: Any = None,
    lenient: bool = False,
    tool_prompt: str = "full",
    top_k: int | None = None,
    retriever: Any = None,
    restrict_to_candidates: bool = True,
    stop_on_repeat: bool = True,
) -> GenerationResult:
    """Generate one assistant turn that calls ``tools`` (or answers in text), and validate it.

    Args:
        model, tokenizer: a Hugging Face causal LM and its tokenizer (see ``structcall.models``).
        messages: OpenAI-style chat messages (``system``/``user``/``assistant`` with
            ``tool_calls``/``tool``), or one user string.
        tools: anything ``compile_tools`` takes (OpenAI dicts, callables, pydantic models, ...).
        tool_choice: ``"auto"`` (text or calls), ``"required"``, ``"none"`` or a tool name /
            ``{"type": "function", "function": {"name": ...}}``.
        parallel_tool_calls: False allows exactly one call (enforced by the grammar).
        format: output format; default: detected from the tokenizer's chat template.
        backend: ``"llguidance"`` (default), ``"outlines"`` (regular grammars only) or ``"xgrammar"``.
        constrained: False decodes with the same prompt and sampling but no grammar mask,
            then parses and validates (errors land in ``result.errors``).
        max_new_tokens: cap on generated tokens (finish_reason ``"length"`` when hit).
        temperature: 0 = greedy (default); otherwise sampling with ``top_p`` and ``seed``.
        seed: seeds the sampler (``seed + attempt`` on retries); None uses torch's global RNG.
        retries: on an invalid output, re-ask up to this many times with the validator's
            feedback; if every attempt fails raise :class:`ToolCallRetryError` (carrying all
            attempts). With 0 the invalid result is returned.
        fast_forward: feed grammar-forced text in multi-token forward passes, drafted with token
            healing and confirmed token by token by the model: the same output as ``False``, in
            fewer forward passes.
        max_calls, strict, allow_think, limits: passed to ``compile_tools`` (``limits`` caps
            values the schema leaves unbounded; see ``structcall.schema.Limits``).
        lenient: parse with the core parser's repairs (code fences, trailing text, ...).
        tool_prompt: how the prompt shows the tools: ``"full"`` JSON schemas (default),
            ``"compact"`` one-line signatures ``name(arg: type, ...) - what it does``, or
            ``"names"`` (name and one line). The grammar holds every admitted tool's full
            schema whatever the prompt shows (see ``structcall.signatures``).
        top_k: treat ``tools`` as a library (a list, or a ``structcall.retrieval.ToolLibrary``
            to index it once for many calls) and put only the ``top_k`` tools the retriever
            ranks best for the last user message in the prompt (a named ``tool_choice`` is
            always among them). None: every tool is shown.
        retriever: the ``structcall.retrieval.Retriever`` used with ``top_k`` (default BM25).
        restrict_to_candidates: with ``top_k``, True (default) limits the grammar and
            ``tool_choice`` to the retrieved tools; False keeps every tool of the library
            callable (the prompt still shows only the candidates).
        stop_on_repeat: end the output when the model repeats, word for word, a call it
            already made in it (weak models loop on one call until the token limit); the
            repeat is dropped and reported in ``result.notes`` (``stop == "repeat"``). Pass
            False for tools meant to be called twice with the same arguments.
    """
    _check_sampling(max_new_tokens, temperature, top_p)
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    convo = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    tools = _library(tools, top_k, retriever)
    attempts: list[GenerationResult] = []
    for attempt in range(retries + 1):
        job = _job(tokenizer, convo, tools, format=format, tool_choice=tool_choice,
                   parallel_tool_calls=parallel_tool_calls, max_calls=max_calls, strict=strict,
                   allow_think=allow_think, limits=limits, lenient=lenient, tool_prompt=tool_prompt,
                   top_k=top_k, restrict_to_candidates=restrict_to_candidates)
        result = _run(model, tokenizer, [job], backend=backend, constrained=constrained,
                      max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                      seeds=[None if seed is None else seed + attempt], fast_forward=fast_forward,
                      stop_on_repeat=stop_on_repeat)[0]
        if result.ok or retries == 0:
            result.attempts = attempts
            return result
        attempts.append(result)
        convo = convo + [
            {"role": "assistant", "content": result.text},
            {"role": "user", "content": result.errors[0].feedback},
        ]
    raise ToolCallRetryError(attempts)


def generate_batch(
    model: Any,
    tokenizer: Any,
    requests: list[Any],
    tools: Any = None,
    *,
    tool_choice: Any = "auto",
    parallel_tool_calls: bool = True,
    format: str | None = None,
    backend: str = "llguidance",
    constrained: bool = True,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    batch_size: int = 8,
    fast_forward: bool = True,
    max_calls: int | None = None,
    strict: bool = False,
    allow_think: bool = False,
    limits: Any = None,
    lenient: bool = False,
    tool_prompt: str = "full",
    top_k: int | None = None,
    retriever: Any = None,
    restrict_to_candidates: bool = True,
    stop_on_repeat: bool = True,
) -> list[GenerationResult]:
    """Generate for many conversations, batched on the model; results in input order.

    Each request is a message list (or a user string) using the shared ``tools`` and
    options, or a dict ``{"messages": ..., "tools": ..., "tool_choice": ...,
    "parallel_tool_calls": ..., "format": ...}`` whose keys override them for that request
    (the shape of a dataset row with a ``tools`` column). Requests are sorted by prompt length into
    batches of ``batch_size``; request ``i`` samples with ``seed + i``, so its result does
    not depend on which batch it lands in. No retries: invalid outputs come back with
    ``errors``. Other arguments as in :func:`generate` (with ``top_k``, shared ``tools`` are
    indexed once for the whole batch).
    """
    _check_sampling(max_new_tokens, temperature, top_p)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    tools = _library(tools, top_k, retriever) if tools is not None else tools
    jobs: list[_Job] = []
    for i, req in enumerate(requests):
        opts = {"tools": tools, "tool_choice": tool_choice, "parallel_tool_calls": parallel_tool_calls,
                "format": format}
        if isinstance(req, dict):
            unknown = set(req) - {"messages", *opts}
            if "messages" not in req or unknown:
                raise ValueError(
                    f"requests[{i}] must be a message list or a dict with 'messages' and optional "
                    f"'tools', 'tool_choice', 'parallel_tool_calls', 'format'; got keys {sorted(req)}"
                )
            opts.update({k: v for k, v in req.items() if k != "messages"})
            messages = req["messages"]
        else:
            messages = req
        if opts["tools"] is None:
            raise ValueError(f"requests[{i}] has no tools: pass tools= or a 'tools' key")
        row_tools = opts["tools"] if opts["tools"] is tools else _library(opts["tools"], top_k, retriever)
        jobs.append(_job(tokenizer, messages, row_tools, format=opts["format"],
                         tool_choice=opts["tool_choice"], parallel_tool_calls=opts["parallel_tool_calls"],
                         max_calls=max_calls, strict=strict, allow_think=allow_think, limits=limits, lenient=lenient,
                         tool_prompt=tool_prompt, top_k=top_k, restrict_to_candidates=restrict_to_candidates))
    order = sorted(range(len(jobs)), key=lambda i: len(jobs[i].prompt_ids))
    results: list[GenerationResult | None] = [None] * len(jobs)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        out = _run(model, tokenizer, [jobs[i] for i in chunk], backend=backend,
                   constrained=constrained, max_new_tokens=max_new_tokens,
                   temperature=temperature, top_p=top_p,
                   seeds=[None if seed is None else seed + i for i in chunk],
                   fast_forward=fast_forward, stop_on_repeat=stop_on_repeat)
        for i, r in zip(chunk, out):
            results[i] = r
    return [r for r in results if r is not None]


def stream_generate(
    model: Any,
    tokenizer: Any,
    messages: list[dict] | str,
    tools: Any,
    *,
    tool_choice: Any = "auto",
    parallel_tool_calls: bool = True,
    format: str | None = None,
    backend: str = "llguidance",
    constrained: bool = True,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    fast_forward: bool = True,
    max_calls: int | None = None,
    strict: bool = False,
    allow_think: bool = False,
    limits: Any = None,
    lenient: bool = False,
    tool_prompt: str = "full",
    top_k: int | None = None,
    retriever: Any = None,
    restrict_to_candidates: bool = True,
    stop_on_repeat: bool = True,
) -> Iterator[StreamEvent]:
    """Like :func:`generate` (no retries), as events: ``"text"`` deltas of the raw output
    (call markup included; a delta never splits a UTF-8 character; when the output ends at
    a repeated call the deltas hold the raw text and ``result.text`` stops before the
    repeat), a ``"tool_call"`` event
    for each call as soon as it is complete and valid, and a final ``"done"`` event with the
    :class:`GenerationResult` (whose ``tool_calls`` are the streamed calls)."""
    _check_sampling(max_new_tokens, temperature, top_p)
    job = _job(tokenizer, messages, _library(tools, top_k, retriever), format=format, tool_choice=tool_choice,
               parallel_tool_calls=parallel_tool_calls, max_calls=max_calls, strict=strict,
               allow_think=allow_think, limits=limits, lenient=lenient, tool_prompt=tool_prompt,
               top_k=top_k, restrict_to_candidates=restrict_to_candidates)
    info, seqs, compile_s, be = _sequences(model, tokenizer, [job], backend=backend,
                                           constrained=constrained, seeds=[seed])
    seq = seqs[0]
    splitter = CallSplitter(job.grammar.format)
    watch = _RepeatWatch(job.grammar.format) if stop_on_repeat else None
    stats = DecodeStats()
    sent = ""
    streamed: list[ToolCall] = []
    try:
        steps = iter_decode(model, tokenizer, info, seqs, max_new_tokens=max_new_tokens,
                            temperature=temperature, top_p=top_p,
                            fast_forward="chunk" if fast_forward else "off", stats=stats)
        for _ in steps:
            raw = info.decode_bytes(seq.token_ids)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = raw[: exc.start].decode("utf-8")  # hold back a split character
            feed = text
            if watch is not None and (watch.cut is not None or watch.feed(text)):
                seq.finish = "repeat"  # the decoding loop drops a finished sequence
                feed = text[: watch.cut]
            if len(text) > len(sent):
                yield StreamEvent("text", text=text[len(sent):])
                sent = text
            if len(feed) < len(splitter._text):
                continue
            for one in splitter.feed(feed):
                try:
                    found = parse_calls(one, job.grammar.specs, format=job.grammar.format,
                                        tool_choice=job.grammar.choice, lenient=lenient)
                except ToolCallError:
                    continue  # reported in the final result
                for call in found:
                    streamed.append(call)
                    yield StreamEvent("tool_call", tool_call=call)
    finally:
        _release(be, [job], seqs)
    result = _result(job, seq, info, backend=backend if constrained else None, stats=stats,
                     compile_s=compile_s[0], watch=watch)
    if len(result.text) > len(sent):
        yield StreamEvent("text", text=result.text[len(sent):])
    if result.ok and [(c.name, c.arguments) for c in result.tool_calls] == [
        (c.name, c.arguments) for c in streamed
    ]:
        result.tool_calls = streamed
    yield StreamEvent("done", result=result)
