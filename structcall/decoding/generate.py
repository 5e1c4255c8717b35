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

import pickle
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Literal

from structcall.compile import DEFAULT_MAX_CALLS, ToolGrammar, compile_tools, normalize_tool_choice
from structcall.errors import ToolCallError
from structcall.formats import detect_format
from structcall.parse import ToolCall, parse_calls, parse_output, truncation_error
from structcall.retrieval import ToolLibrary, query_text
from structcall.schema import Limits

from structcall.decoding.backends import get_backend
from structcall.decoding.loop import DecodeStats, Sequence, iter_decode
from structcall.decoding.options import DecodingOptions, GrammarOptions, Options, PromptOptions, resolve_options
from structcall.decoding.prompt import render_prompt
from structcall.split import CallSplitter
from structcall.decoding.vocab import TokenizerInfo, stop_token_ids, tokenizer_info

__all__ = [
    "DecodingOptions",
    "GenerationResult",
    "GrammarOptions",
    "PromptOptions",
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
    compile_s: float = 0.0  # compiling the grammar (0 when an earlier request of the call did)


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


def _identity(tools: Any) -> tuple:
    """A key for a tool set within one call: each dict tool by its content, any other tool
    (callable, model, ToolSpec) by identity (the request holds it for the whole call)."""
    items = tools if isinstance(tools, (list, tuple)) else [tools]
    key = []
    for t in items:
        if isinstance(t, dict):
            try:
                key.append(pickle.dumps(t, protocol=5))
                continue
            except (TypeError, ValueError, pickle.PicklingError, AttributeError, RecursionError):
                pass
        key.append(id(t))
    return (type(tools).__name__, *key)


def _conflicts(grammar: ToolGrammar, opts: GrammarOptions, given: frozenset[str]) -> list[str]:
    """The grammar options the caller set that disagree with a compiled grammar's."""
    bad = []
    if "format" in given and opts.format is not None and opts.format != grammar.format:
        bad.append(f"format={opts.format!r} (the grammar's is {grammar.format!r})")
    if "tool_choice" in given and normalize_tool_choice(opts.tool_choice, grammar.specs) != grammar.choice:
        bad.append(f"tool_choice={opts.tool_choice!r} (the grammar's is {grammar.tool_choice!r})")
    if "parallel_tool_calls" in given and bool(opts.parallel_tool_calls) != grammar.parallel_tool_calls:
        bad.append(f"parallel_tool_calls={opts.parallel_tool_calls!r} (the grammar's is {grammar.parallel_tool_calls})")
    if "max_calls" in given and grammar.parallel_tool_calls and (opts.max_calls or DEFAULT_MAX_CALLS) != grammar.max_calls:
        bad.append(f"max_calls={opts.max_calls!r} (the grammar's is {grammar.max_calls})")
    if "strict" in given and bool(opts.strict) != grammar.strict:
        bad.append(f"strict={opts.strict!r} (the grammar's is {grammar.strict})")
    if "allow_think" in given and bool(opts.allow_think) != grammar.allow_think:
        bad.append(f"allow_think={opts.allow_think!r} (the grammar's is {grammar.allow_think})")
    if "limits" in given and (opts.limits or Limits()) != grammar.limits:
        bad.append(f"limits={opts.limits!r} (the grammar's is {grammar.limits!r})")
    return bad


class _Requests:
    """Turns requests into jobs for one call of generate / generate_batch / stream_generate:
    each distinct tool set is indexed (``top_k``) and compiled once per call, however many
    attempts or batch rows use it; a compiled `ToolGrammar` passed as tools is used as it is."""

    def __init__(self, func: str, tokenizer: Any, opts: Options):
        self.func = func
        self.tokenizer = tokenizer
        self.opts = opts
        self._format: str | None = None
        self._grammars: dict[tuple, ToolGrammar] = {}
        self._libraries: dict[tuple, ToolLibrary] = {}

    def library(self, tools: Any) -> Any:
        """``tools`` as a `ToolLibrary` when retrieval is asked for (indexed once per call;
        pass a ToolLibrary to index once for many calls)."""
        p = self.opts.prompt
        if p.top_k is None or isinstance(tools, ToolGrammar):
            return tools
        if isinstance(tools, ToolLibrary):
            if p.retriever is not None and p.retriever is not tools.retriever:
                raise ValueError("retriever= is given but tools is a ToolLibrary with its own retriever")
            return tools
        key = _identity(tools)
        if key not in self._libraries:
            self._libraries[key] = ToolLibrary(tools, retriever=p.retriever)
        return self._libraries[key]

    def grammar(self, messages: Any, tools: Any, gopts: GrammarOptions, given: frozenset[str],
                where: str = "") -> tuple[ToolGrammar, list | None, float]:
        """The grammar for ``tools`` (compiled, or from this call's earlier requests), the
        tools the prompt shows (None: all), and the seconds spent compiling."""
        p = self.opts.prompt
        if isinstance(tools, ToolGrammar):
            if p.top_k is not None:
                raise ValueError(f"{self.func}(): top_k= retrieves tools and compiles a grammar for them; "
                                 "pass the tools (or a ToolLibrary), not a compiled ToolGrammar")
            bad = _conflicts(tools, gopts, given)
            if bad:
                raise ValueError(f"{self.func}(){where}: tools is a compiled {tools!r}, and {'; '.join(bad)} "
                                 "disagree with it: compile the tools with these options or leave them out")
            return tools, None, 0.0
        t0 = time.perf_counter()
        shown = None
        tools = self.library(tools)
        if isinstance(tools, ToolLibrary):
            library, tools = tools, tools.specs
            if p.top_k is not None:
                choice = normalize_tool_choice(gopts.tool_choice, library.specs)
                named = [choice.name] if choice.named else []
                shown = library.search(query_text(messages), p.top_k, include=named)
                if p.restrict_to_candidates:
                    tools = shown
        fmt = gopts.format
        if fmt is None:
            if self._format is None:
                self._format = detect_format(self.tokenizer)
            fmt = self._format
        key = (_identity(tools), fmt, repr(gopts.tool_choice), bool(gopts.parallel_tool_calls))
        grammar = self._grammars.get(key)
        if grammar is None:
            grammar = compile_tools(
                tools, format=fmt, tool_choice=gopts.tool_choice, parallel_tool_calls=gopts.parallel_tool_calls,
                max_calls=gopts.max_calls, strict=gopts.strict, allow_think=gopts.allow_think, limits=gopts.limits,
            )
            self._grammars[key] = grammar
        return grammar, shown, time.perf_counter() - t0

    def job(self, messages: Any, grammar: ToolGrammar, shown: list | None, compile_s: float = 0.0) -> _Job:
        """The prompt of ``messages`` for ``grammar``, tokenized."""
        t0 = time.perf_counter()
        prompt = render_prompt(self.tokenizer, messages, grammar, tool_prompt=self.opts.prompt.tool_prompt, shown=shown)
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return _Job(grammar, prompt, list(ids), time.perf_counter() - t0, self.opts.decoding.lenient,
                    None if shown is None else [s.name for s in shown], compile_s)


def _job(tokenizer: Any, messages: Any, tools: Any, **options: Any) -> _Job:
    """One request's job from keyword options (the fields of the option classes)."""
    opts = resolve_options("_job", {}, options)
    requests = _Requests("_job", tokenizer, opts)
    return requests.job(messages, *requests.grammar(messages, tools, opts.grammar, opts.grammar_given))


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
    compile_s += job.compile_s
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

def _text_so_far(info: TokenizerInfo, seq: Sequence) -> str:
    raw = info.decode_bytes(seq.token_ids)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return raw[: exc.start].decode("utf-8", errors="replace")  # hold back a split character

def _run(model: Any, tokenizer: Any, jobs: list[_Job], d: DecodingOptions,
         seeds: list[int | None]) -> list[GenerationResult]:
    info, seqs, compile_s, be = _sequences(model, tokenizer, jobs, backend=d.backend,
                                           constrained=d.constrained, seeds=seeds)
    watches = [_RepeatWatch(job.grammar.format) if d.stop_on_repeat else None for job in jobs]
    stats = DecodeStats()
    try:
        for round_new in iter_decode(model, tokenizer, info, seqs, max_new_tokens=d.max_new_tokens,
                                     temperature=d.temperature, top_p=d.top_p,
                                     fast_forward="chunk" if d.fast_forward else "off", stats=stats):
            for i, _ in round_new:
                w = watches[i]
                if w is not None and w.cut is None and w.feed(_text_so_far(info, seqs[i])):
                    seqs[i].finish = "repeat"  # the decoding loop drops a finished sequence
    finally:
        _release(be, jobs, seqs)
    return [
        _result(job, seq, info, backend=d.backend if d.constrained else None, stats=stats, compile_s=c, watch=w)
        for job, seq, c, w in zip(jobs, seqs, compile_s, watches)
    ]


def generate(
    model: Any,
    tokenizer: Any,
    messages: list[dict] | str,
    tools: Any,
    *,
    retries: int = 0,
    grammar_options: GrammarOptions | None = None,
    prompt_options: PromptOptions | None = None,
    decoding_options: DecodingOptions | None = None,
    **options: Any,
) -> GenerationResult:
    """Generate one assistant turn that calls ``tools`` (or answers in text), and validate it.

    The tools are compiled once per call, not once per attempt.

    Args:
        model, tokenizer: a Hugging Face causal LM and its tokenizer (see ``structcall.models``).
        messages: OpenAI-style chat messages (``system``/``user``/``assistant`` with
            ``tool_calls``/``tool``), or one user string.
        tools: anything ``compile_tools`` takes (OpenAI dicts, callables, pydantic models, ...),
            a ``structcall.retrieval.ToolLibrary``, or a compiled ``ToolGrammar`` (used as it
            is; grammar options given alongside must agree with it, else ValueError).
        retries: on an invalid output, re-ask up to this many times with the validator's
            feedback; if every attempt fails raise :class:`ToolCallRetryError` (carrying all
            attempts). With 0 (default) the invalid result is returned.
        grammar_options: a :class:`GrammarOptions` (``format``, ``tool_choice``,
            ``parallel_tool_calls``, ``max_calls``, ``strict``, ``allow_think``, ``limits``).
        prompt_options: a :class:`PromptOptions` (``tool_prompt``, ``top_k``, ``retriever``,
            ``restrict_to_candidates``).
        decoding_options: a :class:`DecodingOptions` (``backend``, ``constrained``,
            ``max_new_tokens``, ``temperature``, ``top_p``, ``seed``, ``fast_forward``,
            ``stop_on_repeat``, ``lenient``).
        **options: any field of the three classes as a keyword (``temperature=0.7``), with the
            defaults documented there. A keyword whose option object is also given is a TypeError.
    """
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    opts = resolve_options("generate", {"grammar_options": grammar_options, "prompt_options": prompt_options,
                                        "decoding_options": decoding_options}, options)
    d = opts.decoding
    convo = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    requests = _Requests("generate", tokenizer, opts)
    grammar, shown, compile_s = requests.grammar(convo, tools, opts.grammar, opts.grammar_given)
    attempts: list[GenerationResult] = []
    for attempt in range(retries + 1):
        job = requests.job(convo, grammar, shown, compile_s if attempt == 0 else 0.0)
        result = _run(model, tokenizer, [job], d, seeds=[None if d.seed is None else d.seed + attempt])[0]
        if result.ok or retries == 0:
            result.attempts = attempts
            return result
        attempts.append(result)
        convo = convo + [
            {"role": "assistant", "content": result.text},
            {"role": "user", "content": result.errors[0].feedback},
        ]
    raise ToolCallRetryError(attempts)


_ROW_KEYS = ("tools", "tool_choice", "parallel_tool_calls", "format")


def generate_batch(
    model: Any,
    tokenizer: Any,
    requests: list[Any],
    tools: Any = None,
    *,
    batch_size: int = 8,
    grammar_options: GrammarOptions | None = None,
    prompt_options: PromptOptions | None = None,
    decoding_options: DecodingOptions | None = None,
    **options: Any,
) -> list[GenerationResult]:
    """Generate for many conversations, batched on the model; results in input order.

    Each request is a message list (or a user string) using the shared ``tools`` and
    options, or a dict ``{"messages": ..., "tools": ..., "tool_choice": ...,
    "parallel_tool_calls": ..., "format": ...}`` whose keys override them for that request
    (the shape of a dataset row with a ``tools`` column). Each distinct tool set (with its
    options) is compiled once per call. Requests are sorted by prompt length into batches of
    ``batch_size``; request ``i`` samples with ``seed + i``, so its result does not depend on
    which batch it lands in. No retries: invalid outputs come back with ``errors``. Options as
    in :func:`generate` (with ``top_k``, shared ``tools`` are indexed once for the whole batch).
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    opts = resolve_options("generate_batch", {"grammar_options": grammar_options, "prompt_options": prompt_options,
                                              "decoding_options": decoding_options}, options)
    d = opts.decoding
    prep = _Requests("generate_batch", tokenizer, opts)
    jobs: list[_Job] = []
    for i, req in enumerate(requests):
        row_tools, gopts, given = tools, opts.grammar, opts.grammar_given
        if isinstance(req, dict):
            unknown = set(req) - {"messages", *_ROW_KEYS}
            if "messages" not in req or unknown:
                raise ValueError(
                    f"requests[{i}] must be a message list or a dict with 'messages' and optional "
                    f"'tools', 'tool_choice', 'parallel_tool_calls', 'format'; got keys {sorted(req)}"
                )
            row_tools = req.get("tools", tools)
            over = {k: v for k, v in req.items() if k in _ROW_KEYS[1:]}
            if over:
                gopts, given = replace(gopts, **over), given | set(over)
            messages = req["messages"]
        else:
            messages = req
        if row_tools is None:
            raise ValueError(f"requests[{i}] has no tools: pass tools= or a 'tools' key")
        jobs.append(prep.job(messages, *prep.grammar(messages, row_tools, gopts, given, where=f" requests[{i}]")))
    order = sorted(range(len(jobs)), key=lambda i: len(jobs[i].prompt_ids))
    results: list[GenerationResult | None] = [None] * len(jobs)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        out = _run(model, tokenizer, [jobs[i] for i in chunk], d,
                   seeds=[None if d.seed is None else d.seed + i for i in chunk])
        for i, r in zip(chunk, out):
            results[i] = r
    return [r for r in results if r is not None]


def stream_generate(
    model: Any,
    tokenizer: Any,
    messages: list[dict] | str,
    tools: Any,
    *,
    grammar_options: GrammarOptions | None = None,
    prompt_options: PromptOptions | None = None,
    decoding_options: DecodingOptions | None = None,
    **options: Any,
) -> Iterator[StreamEvent]:
    """Like :func:`generate` (no retries), as events: ``"text"`` deltas of the raw output
    (call markup included; a delta never splits a UTF-8 character; when the output ends at
    a repeated call the deltas hold the raw text and ``result.text`` stops before the
    repeat), a ``"tool_call"`` event
    for each call as soon as it is complete and valid, and a final ``"done"`` event with the
    :class:`GenerationResult` (whose ``tool_calls`` are the streamed calls). Options as in
    :func:`generate`."""
    opts = resolve_options("stream_generate", {"grammar_options": grammar_options, "prompt_options": prompt_options,
                                               "decoding_options": decoding_options}, options)
    prep = _Requests("stream_generate", tokenizer, opts)
    job = prep.job(messages, *prep.grammar(messages, tools, opts.grammar, opts.grammar_given))
    return _stream(model, tokenizer, job, opts.decoding)


def _stream(model: Any, tokenizer: Any, job: _Job, d: DecodingOptions) -> Iterator[StreamEvent]:
    info, seqs, compile_s, be = _sequences(model, tokenizer, [job], backend=d.backend,
                                           constrained=d.constrained, seeds=[d.seed])
    seq = seqs[0]
    splitter = CallSplitter(job.grammar.format)
    watch = _RepeatWatch(job.grammar.format) if d.stop_on_repeat else None
    stats = DecodeStats()
    sent = ""
    streamed: list[ToolCall] = []
    try:
        steps = iter_decode(model, tokenizer, info, seqs, max_new_tokens=d.max_new_tokens,
                            temperature=d.temperature, top_p=d.top_p,
                            fast_forward="chunk" if d.fast_forward else "off", stats=stats)
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
                try:  # the compiled grammar carries the tools, format and tool choice
                    found = parse_calls(one, job.grammar, lenient=d.lenient)
                except ToolCallError:
                    continue  # reported in the final result
                for call in found:
                    streamed.append(call)
                    yield StreamEvent("tool_call", tool_call=call)
    finally:
        _release(be, [job], seqs)
    result = _result(job, seq, info, backend=d.backend if d.constrained else None, stats=stats,
                     compile_s=compile_s[0], watch=watch)
    if len(result.text) > len(sent):
        yield StreamEvent("text", text=result.text[len(sent):])
    if result.ok and [(c.name, c.arguments) for c in result.tool_calls] == [
        (c.name, c.arguments) for c in streamed
    ]:
        result.tool_calls = streamed
    yield StreamEvent("done", result=result)
