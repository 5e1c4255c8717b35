"""vLLM plugin: the ``structcall`` tool-call parser.

Install structcall next to vLLM and start the server with::

    vllm serve MODEL --enable-auto-tool-choice --tool-call-parser structcall

vLLM finds :func:`register` through the ``vllm.general_plugins`` entry point and calls it
in every process before it parses its command line; it only records where the parser
class lives. For each request with tools, :class:`StructcallToolParser`:

* compiles the request's tools with :func:`structcall.compile_tools` in the model's native
  output format (detected from the chat template, or ``STRUCTCALL_FORMAT``) and sets
  ``request.structured_outputs = StructuredOutputsParams(grammar=...)``: ``auto`` is free
  text before the format's call trigger and constrained after it, ``required`` and a named
  function are constrained from the first token, ``parallel_tool_calls=false`` admits
  exactly one call;
* rejects a request whose tools are invalid with HTTP 400 listing every problem with its
  JSON pointer;
* parses and validates the output with :func:`structcall.parse_output` (non-streaming and
  streaming alike, with one final check at the end of both). A streamed call is sent in one
  delta once it is complete and valid, so the streamed arguments are exactly the validated
  arguments. An output that fails validation (a keyword the grammar cannot express) or that
  was cut off before its first complete call is reported as HTTP 422 (non-streaming) or as an
  error event (streaming), never as a tool call, with a message for the API user (what
  failed, where, what to change) that ends with the feedback meant for the model. Each such
  rejection logs one line, not a traceback.

The model only sees the tools if the chat template renders them: a model whose template
ignores ``tools`` (SmolLM2 and other plain ChatML templates) needs one of
:mod:`structcall.serving.chat_templates` (``--chat-template``, or exported into the model
folder by ``python -m structcall.serving.export``); the parser warns once when the model's
own template ignores tools.

This is the only module of structcall that imports vllm.

Environment (read when a request is adjusted):
    STRUCTCALL_FORMAT: output format (one of ``structcall.formats.FORMATS``);
        default: the format named by a structcall chat template, else detected from the
        tokenizer's chat template.
    STRUCTCALL_GRAMMAR: grammar dialect handed to vLLM: ``ebnf`` (default; xgrammar's
        EBNF, compiled natively by vLLM's default ``auto`` and ``xgrammar`` backends and
        converted by ``guidance``) or ``lark`` (llguidance's Lark; for
        ``--structured-outputs-config.backend guidance``).
    STRUCTCALL_MAX_CALLS: cap on parallel calls per response (default: structcall's
        `DEFAULT_MAX_CALLS`, 16). With a cap, the longest possible output is bounded, so a
        ``max_tokens`` that covers it never cuts a call.

Request options (per request, in vLLM's ``vllm_xargs`` field; with the ``openai`` client,
``extra_body={"vllm_xargs": {"structcall_top_k": 5}}``):
    structcall_top_k: a positive integer. The grammar and the validation admit only the
        ``k`` tools that BM25 (:class:`structcall.retrieval.ToolLibrary`) ranks highest for
        the request's last user message, plus the function a named ``tool_choice`` names;
        every tool of the request is still checked (a bad schema anywhere is a 400). Without
        it (the default) every tool of the request can be called. vLLM renders the prompt
        before the parser sees the request, so this option cannot change which tools the
        prompt shows: to keep a long tool library out of the prompt, retrieve on the client
        and send only the top ``k`` tools. Any other ``structcall_*`` key is a 400.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from vllm.entrypoints.generate.base.protocol import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall as VllmToolCall,
)
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest
from vllm.exceptions import VLLMUnprocessableEntityError, VLLMValidationError
from vllm.logger import init_logger
from vllm.sampling_params import SamplingParams, StructuredOutputsParams
from vllm.tool_parsers import ToolParser, ToolParserManager

from structcall import SchemaError, ToolCallError, UnsupportedSchemaError, compile_tools
from structcall.compile import ToolGrammar, normalize_tool_choice
from structcall.formats import FORMATS, detect_format
from structcall.parse import parse_output, truncation_error
from structcall.render import render_calls
from structcall.retrieval import ToolLibrary

from .chat_templates import format_of_template

__all__ = [
    "register",
    "StructcallToolParser",
    "ToolCallValidationError",
    "grammar_for_backend",
    "call_token_estimate",
    "cut_output_error",
    "dialect_for_backend",
    "request_options",
    "request_tools",
    "last_user_text",
    "sampling_params",
    "structured_outputs_params",
]

# under "vllm." so that vLLM's logging configuration (handlers, level) applies to it
logger = init_logger("vllm.structcall")

PARSER_NAME = "structcall"
GRAMMAR_DIALECTS = ("ebnf", "lark")
# per-request options, read from the request's ``vllm_xargs``
TOP_K_OPTION = "structcall_top_k"
REQUEST_OPTIONS = (TOP_K_OPTION,)



def register() -> None:
    """vLLM ``general_plugins`` entry point: register the ``structcall`` tool parser (lazily:
    the parser module is imported when a server selects it)."""
    ToolParserManager.register_lazy_module(PARSER_NAME, __name__, "StructcallToolParser")


class ToolCallValidationError(VLLMUnprocessableEntityError):
    """The model's output is not a valid tool call for the request (HTTP 422).

    ``str(e)`` is the message for the API user (the HTTP error body's ``message``): what
    failed, where, and what to change, ending with a ``model_feedback:`` paragraph.

    Attributes:
        feedback: the deterministic feedback meant for the model (`ToolCallError.feedback`),
            fit to send back as a tool result; also the end of the message.
        error: the underlying `ToolCallError`.
        summary: one line for the server log.
    """

    def __init__(self, message: str, *, error: ToolCallError, summary: str, parameter: str = "tool_calls"):
        super().__init__(message, parameter=parameter)
        self.error = error
        self.feedback = error.feedback
        self.summary = summary

    def __str__(self) -> str:  # the parameter goes to the body's ``param`` field, not the message
        return self.args[0]


class _OneLineRejections(logging.Filter):
    """Drops vLLM's traceback record for a rejected output in a stream (the parser has
    already logged it in one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ToolCallValidationError)


# vLLM logs any exception of a streaming generator with logger.exception (a full traceback).
_STREAM_LOGGERS = ("vllm.entrypoints.openai.chat_completion.serving", "vllm.entrypoints.openai.responses.serving")
_filter_installed = False


def _install_log_filter() -> None:
    global _filter_installed
    if _filter_installed:
        return
    for name in _STREAM_LOGGERS:
        logging.getLogger(name).addFilter(_OneLineRejections())
    _filter_installed = True


# ------------------------------------------------------------------------------ helpers
def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def request_tools(request: ChatCompletionRequest | ResponsesRequest) -> list[dict]:
    """The request's function tools as plain OpenAI dicts (Chat Completions nested shape, or
    the Responses API's flat shape). Raises `VLLMValidationError` for a tool structcall
    cannot call (a Responses built-in tool such as ``web_search``)."""
    tools: list[dict] = []
    for i, tool in enumerate(request.tools or []):
        if isinstance(tool, dict):
            tools.append(tool)
            continue
        fn = getattr(tool, "function", None)
        if fn is not None:  # Chat Completions: {"type": "function", "function": {...}}
            tools.append({"type": "function", "function": _drop_none({
                "name": fn.name, "description": fn.description,
                "parameters": fn.parameters, "strict": fn.strict,
            })})
        elif getattr(tool, "type", None) == "function":  # Responses: flat function tool
            tools.append(_drop_none({
                "type": "function", "name": tool.name, "description": getattr(tool, "description", None),
                "parameters": getattr(tool, "parameters", None), "strict": getattr(tool, "strict", None),
            }))
        else:
            raise VLLMValidationError(
                f"structcall: /tools/{i} has type {getattr(tool, 'type', type(tool).__name__)!r}; "
                "the structcall tool parser handles function tools only",
                parameter="tools",
            )
    return tools


def request_options(request) -> dict[str, Any]:
    """structcall's options of one request, read from its ``vllm_xargs`` (other keys there
    belong to other extensions and are left alone): ``{"top_k": int | None}``. Raises
    `VLLMValidationError` (HTTP 400) for an unknown ``structcall_*`` key or a bad value."""
    xargs = getattr(request, "vllm_xargs", None) or {}
    unknown = sorted(k for k in xargs if k.startswith("structcall_") and k not in REQUEST_OPTIONS)
    if unknown:
        raise VLLMValidationError(
            f"structcall: vllm_xargs has unknown option(s) {', '.join(map(repr, unknown))}; structcall reads "
            f"{', '.join(map(repr, REQUEST_OPTIONS))}",
            parameter="vllm_xargs",
        )
    top_k = xargs.get(TOP_K_OPTION)
    if isinstance(top_k, str) and top_k.strip().isdigit():
        top_k = int(top_k)
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise VLLMValidationError(
            f"structcall: vllm_xargs.{TOP_K_OPTION} must be a positive integer (how many retrieved tools the "
            f"grammar admits), got {top_k!r}",
            parameter="vllm_xargs",
        )
    return {"top_k": top_k}


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        text = _field(part, "text")
        if _field(part, "type") in ("text", "input_text") and isinstance(text, str):
            parts.append(text)
    return "\n".join(parts)


def last_user_text(request: ChatCompletionRequest | ResponsesRequest) -> str:
    """The text of the request's last user message (Chat Completions ``messages`` or the
    Responses API's ``input``), the query that tool retrieval ranks the tools for; "" if none."""
    if isinstance(request, ResponsesRequest):
        if isinstance(request.input, str):
            return request.input
        messages = request.input
    else:
        messages = request.messages
    for m in reversed(list(messages or [])):
        if _field(m, "role") == "user":
            return _content_text(_field(m, "content"))
    return ""


@functools.lru_cache(maxsize=16)
def _library(tools_key: str) -> ToolLibrary:
    """The request's tools normalised and indexed for BM25 once per distinct tool list."""
    return ToolLibrary(json.loads(tools_key))


def _tool_choice(request) -> Any:
    choice = request.tool_choice
    if choice is None or isinstance(choice, str):
        return choice or "auto"
    data = choice.model_dump() if hasattr(choice, "model_dump") else dict(choice)
    if data.get("type") != "function":
        raise VLLMValidationError(
            f"structcall: tool_choice of type {data.get('type')!r} is not supported; use 'auto', 'required', "
            "'none' or a named function",
            parameter="tool_choice",
        )
    return data


def _strict(tools: list[dict]) -> bool:
    """OpenAI's per-function ``strict: true`` asks for a schema the grammar enforces in full."""
    return any((t.get("function", t)).get("strict") is True for t in tools)


def grammar_for_backend(g: ToolGrammar, dialect: str | None = None) -> str:
    """The grammar text to give vLLM: ``"ebnf"`` (xgrammar EBNF) or ``"lark"`` (llguidance
    Lark). ``None`` reads ``STRUCTCALL_GRAMMAR`` (default ``"ebnf"``)."""
    dialect = (dialect or os.environ.get("STRUCTCALL_GRAMMAR") or "ebnf").strip().lower()
    if dialect == "ebnf":
        return g.gbnf()
    if dialect == "lark":
        return g.llguidance()
    raise ValueError(f"STRUCTCALL_GRAMMAR={dialect!r} is not a grammar dialect; use one of {', '.join(GRAMMAR_DIALECTS)}")


def dialect_for_backend(backend: str | None) -> str:
    """The grammar dialect that a vLLM structured-outputs backend compiles natively."""
    return "lark" if backend and backend.startswith("guidance") else "ebnf"


def structured_outputs_params(g: ToolGrammar, *, dialect: str | None = None) -> StructuredOutputsParams:
    """``StructuredOutputsParams`` that constrain generation to `g`'s grammar."""
    return StructuredOutputsParams(grammar=grammar_for_backend(g, dialect))


def sampling_params(g: ToolGrammar, *, dialect: str | None = None, **kwargs: Any) -> SamplingParams:
    """``vllm.SamplingParams(**kwargs)`` constrained to `g`'s grammar (for ``vllm.LLM``)."""
    if "structured_outputs" in kwargs:
        raise ValueError("sampling_params() sets structured_outputs itself; do not pass it")
    return SamplingParams(structured_outputs=structured_outputs_params(g, dialect=dialect), **kwargs)


def _shown(text: str, limit: int = 300) -> str:
    shown = text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
    return json.dumps(shown, ensure_ascii=False)


_KIND_TEXT = {
    "value": "a value the schema does not allow",
    "type": "a value of the wrong type",
    "missing_argument": "a required argument is missing",
    "unknown_argument": "an argument the tool does not have",
    "unknown_tool": "a tool that is not in the request",
    "count": "the wrong number of calls",
    "parse": "the output is not a well-formed call",
    "truncated": "the output stops inside a call",
    "no_call": "no call in the output",
}


def _where(pointer: str) -> str:
    """A pointer into the call list, in words: ``/0/arguments/city`` -> ``call 1, arguments/city``."""
    parts = pointer.split("/")[1:] if pointer else []
    if not parts:
        return "the whole output"
    if parts[0].isdigit():
        rest = "/".join(parts[1:])
        return f"call {int(parts[0]) + 1}" + (f", {rest}" if rest else "")
    return pointer


def _unenforced_lines(g: ToolGrammar) -> str:
    notes = g.unenforced
    if not notes:
        return ""
    listed = "; ".join(f"{n.keyword} at tools{n.pointer}" for n in notes[:6])
    more = f" (and {len(notes) - 6} more)" if len(notes) > 6 else ""
    return (
        f" The grammar cannot enforce these keywords of your tools, so the model was free to break them: "
        f"{listed}{more}; they are checked after decoding."
    )


def invalid_call_error(err: ToolCallError, g: ToolGrammar, text: str) -> ToolCallValidationError:
    """The error for an output whose calls are complete but fail validation (or do not parse)."""
    n = len(err.errors)
    problems = "; ".join(f"{_where(p)}: {m} ({_KIND_TEXT.get(k, k)})" for k, p, m in err.errors[:5])
    if n > 5:
        problems += f"; and {n - 5} more"
    unenforced = _unenforced_lines(g)
    fixes = ["retry the request (another sample may pass)",
             "send the model_feedback below back to the model as a tool result"]
    if unenforced:
        fixes.append("relax those keywords, or mark the tool `strict: true` to have them refused with a 400 "
                     "before anything is generated")
    message = (
        f"structcall: the model's tool call was rejected after decoding, so no call is returned: "
        f"{n} problem{'s' if n != 1 else ''}: {problems}.{unenforced} "
        f"What to change: {'; '.join(fixes)}. Model output: {_shown(text)}\n"
        f"model_feedback: {err.feedback}"
    )
    summary = f"rejected the model's tool call: {err.kind} error at {err.pointer or '/'}: {err.message}"
    return ToolCallValidationError(message, error=err, summary=summary)


def _example_value(schema: Any, depth: int = 0) -> Any:
    """A short value of `schema` (required properties only), to size a typical call."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for kw in ("anyOf", "oneOf"):
        if schema.get(kw):
            return _example_value(schema[kw][0], depth + 1)
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object" or (t is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {k: _example_value(props.get(k, {}), depth + 1) for k in schema.get("required") or []}
    if t == "array":
        return [_example_value(schema.get("items", {}), depth + 1) for _ in range(int(schema.get("minItems") or 0))]
    if t == "integer":
        return 10
    if t == "number":
        return 1.5
    if t == "boolean":
        return True
    if t == "string":
        return "x" * max(int(schema.get("minLength") or 0), 8)
    return None


def call_token_estimate(g: ToolGrammar, tokenizer) -> tuple[int, int, str]:
    """(fewest, most, tool of the fewest) tokens that one call of `g`'s tools takes in its
    format, written with its required arguments only and short values (an 8-character
    string, a 2-digit number): a floor for ``max_tokens``."""
    sizes = []
    for spec in g.specs:
        text = render_calls([(spec.name, _example_value(spec.parameters) or {})], g.format, tools=g.specs)
        sizes.append((len(tokenizer.encode(text, add_special_tokens=False)) + 1, spec.original_name or spec.name))
    if not sizes:
        return 0, 0, ""
    fewest = min(sizes)
    return fewest[0], max(sizes)[0], fewest[1]


def _token_limit(request) -> int | None:
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = getattr(request, name, None)
        if isinstance(value, int):
            return value
    return None


def _complete_before(err: ToolCallError) -> int:
    """How many calls came complete before the one a cut-off error points into (``/2/...``: 2)."""
    head = (err.pointer or "").split("/")[1:2]
    return int(head[0]) if head and head[0].isdigit() else 0


def cut_output_error(g: ToolGrammar, text: str, request, tokenizer, err: ToolCallError) -> ToolCallValidationError:
    """The error for an output that ended inside a call with no complete call to return (HTTP 422)."""
    limit = _token_limit(request)
    try:
        used = len(tokenizer.encode(text, add_special_tokens=False))
        fewest, most, tool = call_token_estimate(g, tokenizer)
    except Exception:  # a tokenizer that cannot encode: say less, but still say what happened
        used, fewest, most, tool = None, 0, 0, ""
    about = f", about {used} tokens generated" if used is not None else ""
    stops = bool(getattr(request, "stop", None)) or bool(getattr(request, "stop_token_ids", None))
    if limit is None:
        how = f"was cut off by the context length{' or a stop sequence' if stops else ''} (no max_tokens set{about})"
    elif stops:
        how = f"was cut off by the token limit or a stop sequence (max_tokens={limit}{about})"
    else:
        how = f"was cut off by the token limit (max_tokens={limit}{about})"
    k = _complete_before(err)
    where = "before its first tool call was complete" if k == 0 else f"inside call {k + 1}"
    size = ""
    if fewest:
        span = f"{fewest}" if fewest == most else f"{fewest} to {most}"
        size = (f" One call of these tools takes about {span} tokens in the {g.format} format with only its "
                f"required arguments and short values ({fewest} for {tool}); longer values take more.")
    suggest = max(64, 2 * most) if most else None
    fix = (f"raise max_tokens (at least {suggest} for one call; more for parallel calls or long arguments)"
           if suggest else "raise max_tokens")
    message = (
        f"structcall: the output {how} {where}, so no call is returned.{size} What to change: {fix}. "
        f"Model output: {_shown(text)}\nmodel_feedback: {err.feedback}"
    )
    summary = f"output cut {where} ({how})"
    return ToolCallValidationError(message, error=err, summary=summary, parameter="max_tokens")


# ------------------------------------------------------------------------------ the parser
class StructcallToolParser(ToolParser):
    """Constrains tool calls with structcall's grammar and validates them after decoding.

    One instance serves one request (vLLM builds a new one per request and per choice).
    Streaming uses vLLM's "engine-based" contract: each call gets the new text only, and
    `finish_streaming` runs when the stream ends, for any reason (stop, length, stop string),
    so the end of a stream gets the same final check as a non-streamed response.
    """

    # Route required/named tool_choice through extract_tool_calls* (native format) instead of
    # vLLM's generic JSON-array handling, and keep vLLM's own structural tags out of it.
    supports_required_and_named = False
    structural_tag_model = None
    # deltas in, finish_streaming() at the end of every stream
    engine_based_streaming = True

    def __init__(self, tokenizer, tools=None):
        super().__init__(tokenizer, tools)
        _install_log_filter()
        self._g: ToolGrammar | None = None
        self._g_request_id: int | None = None
        # streaming state
        self._request = None  # the streamed request (for finish_streaming)
        self._text = ""  # the output so far
        self._content_sent = 0  # chars of the output already sent as content
        self._section: int | None = None  # where the call section starts
        self._scanned = 0  # chars of the section already scanned for a section end
        self._parsed_upto = 0  # end of the longest prefix that parsed

    # -- grammar
    def _format(self) -> str:
        fmt = os.environ.get("STRUCTCALL_FORMAT")
        if fmt:
            if fmt not in FORMATS:
                raise ValueError(f"STRUCTCALL_FORMAT={fmt!r} is not an output format; known: {', '.join(FORMATS)}")
            return fmt
        marked = format_of_template(getattr(self.model_tokenizer, "chat_template", None))
        if marked in FORMATS:
            return marked
        return detect_format(self.model_tokenizer)

    @staticmethod
    def _max_calls() -> int | None:
        raw = os.environ.get("STRUCTCALL_MAX_CALLS")
        if not raw:
            return None
        if not raw.strip().isdigit() or int(raw) < 1:
            raise ValueError(f"STRUCTCALL_MAX_CALLS={raw!r} must be a positive integer")
        return int(raw)

    def grammar(self, request) -> ToolGrammar:
        """The compiled grammar for `request` (cached per parser and by structcall's cache)."""
        if self._g is not None and self._g_request_id == id(request):
            return self._g
        tools = request_tools(request)
        choice = _tool_choice(request)
        top_k = request_options(request)["top_k"]
        fmt = self._format()
        max_calls = self._max_calls()
        try:
            callable_tools = tools if top_k is None else self._candidates(tools, choice, top_k, request)
            g = compile_tools(
                callable_tools,
                format=fmt,
                tool_choice=choice,
                # a named function is called exactly once, as OpenAI does
                parallel_tool_calls=request.parallel_tool_calls is not False and not isinstance(choice, dict),
                max_calls=max_calls,
                strict=_strict(tools),
            )
        except (SchemaError, UnsupportedSchemaError) as e:
            raise VLLMValidationError(f"structcall: {e}", parameter="tools") from None
        except ValueError as e:  # tool_choice naming no tool, and the like
            raise VLLMValidationError(f"structcall: {e}", parameter="tool_choice") from None
        self._g, self._g_request_id = g, id(request)
        return g

    def _candidates(self, tools: list[dict], choice: Any, top_k: int, request) -> list:
        """The `top_k` tools BM25 ranks highest for the last user message (plus a named
        tool_choice's function), best first; the whole list is normalised and checked."""
        library = _library(json.dumps(tools, sort_keys=True, default=str))
        query = last_user_text(request)
        if not query.strip():
            raise VLLMValidationError(
                f"structcall: vllm_xargs.{TOP_K_OPTION} ranks the tools for the last user message, but the request "
                "has no user message with text; leave the option out to admit every tool",
                parameter="vllm_xargs",
            )
        named = normalize_tool_choice(choice, library.specs)
        picked = library.search(query, top_k, include=[named.name] if named.named else [])
        logger.debug("structcall: %s=%d admits %s of %d tools", TOP_K_OPTION, top_k,
                     ", ".join(s.name for s in picked), len(library))
        return picked

    def _warn_if_tools_not_in_prompt(self, request) -> None:
        if getattr(request, "chat_template", None):
            return
        template = getattr(self.model_tokenizer, "chat_template", None)
        if format_of_template(template):
            return
        try:
            from structcall.decoding.prompt import template_renders_tools

            renders = template_renders_tools(self.model_tokenizer)
        except Exception:  # a tokenizer we cannot probe: say nothing rather than guess
            return
        if not renders:
            logger.warning_once(
                "structcall: the model's own chat template ignores `tools`, so unless the server was started "
                "with a --chat-template that renders them the model never sees the tools (tool_choice='auto' "
                "then rarely calls). Use one of structcall's templates: `python -m "
                "structcall.serving.chat_templates FORMAT > tools.jinja` and `--chat-template tools.jinja`, or "
                "export the model with `python -m structcall.serving.export MODEL OUT_DIR`."
            )

    def adjust_request(self, request):
        if not request.tools or request.tool_choice == "none":
            return request
        g = self.grammar(request)
        self._warn_if_tools_not_in_prompt(request)
        own = request.extract_structured_outputs()
        if own is not None:
            if g.choice.mode == "auto":
                raise VLLMValidationError(
                    "structcall: response_format / structured_outputs cannot be combined with tool_choice='auto' "
                    "(the tool-call grammar would have to drop one of the two constraints); use tool_choice "
                    "'required' or a named function, or leave out response_format",
                    parameter="response_format",
                )
            logger.warning_once("structcall: response_format is ignored because tool_choice forces a tool call")
        request.structured_outputs = structured_outputs_params(g)
        if isinstance(request, ResponsesRequest):
            request.text = None
        else:
            request.response_format = None
        return request

    # -- the outcome of a whole output (non-streaming, and the end of a stream)
    def _reject(self, error: ToolCallValidationError) -> ToolCallValidationError:
        logger.info("structcall: %s", error.summary)
        return error

    def _final(self, text: str, request):
        """`parse_output` result for the whole output, or the user-facing error to raise."""
        g = self.grammar(request)
        try:
            # truncated=True: an output that ends inside a call keeps its complete calls
            result = parse_output(text, g, truncated=True)
        except ToolCallError as e:
            # Under the grammar a complete output always parses: one that does not, or that
            # names no call when one is required, ended early (inside the envelope).
            if e.kind in ("parse", "truncated") or (e.kind == "no_call" and g.requires_call):
                raise self._reject(cut_output_error(g, text, request, self.model_tokenizer, e)) from None
            raise self._reject(invalid_call_error(e, g, text)) from None
        cut = truncation_error(result)
        if cut is not None and result.calls:
            logger.info("structcall: output cut inside call %d; returning the %d complete call(s) before it",
                        len(result.calls) + 1, len(result.calls))
        elif cut is not None:
            raise self._reject(cut_output_error(g, text, request, self.model_tokenizer, cut))
        return result

    # -- non-streaming
    def extract_tool_calls(self, model_output: str, request) -> ExtractedToolCallInformation:
        if not request.tools or request.tool_choice == "none":
            return ExtractedToolCallInformation(tools_called=False, tool_calls=[], content=model_output)
        result = self._final(model_output, request)
        if not result.calls:  # a plain answer (or the format's explicit "no call", which is not content)
            return ExtractedToolCallInformation(tools_called=False, tool_calls=[], content=result.content)
        tool_calls = []
        for call in result.calls:
            oa = call.to_openai()
            fn = oa["function"]
            tool_calls.append(VllmToolCall(
                id=oa["id"], type="function",
                function=FunctionCall(id=oa["id"], name=fn["name"], arguments=fn["arguments"]),
            ))
        return ExtractedToolCallInformation(
            tools_called=True, tool_calls=tool_calls, content=result.content or None
        )

    # -- streaming
    def _section_start(self, g: ToolGrammar, text: str) -> tuple[int | None, int]:
        """(start of the call section or None, how much text is safe to send as content)."""
        if g.choice.mode != "auto":
            return 0, 0
        if g.trigger:
            idx = text.find(g.trigger, max(0, self._content_sent - len(g.trigger)))
            if idx >= 0:
                return idx, idx
            # hold back a suffix that may be the start of the trigger
            keep = 0
            for k in range(min(len(g.trigger) - 1, len(text)), 0, -1):
                if g.trigger.startswith(text[-k:]):
                    keep = k
                    break
            return None, len(text) - keep
        opener = g.output_format.opener or ""
        if not text:
            return None, 0
        return (0, 0) if text[0] in opener else (None, len(text))

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request,
    ) -> DeltaMessage | None:
        if not request.tools or request.tool_choice == "none":
            return DeltaMessage(content=delta_text) if delta_text else None
        self._request = request
        self._text += delta_text
        text = self._text
        g = self.grammar(request)
        content = ""
        if self._section is None:
            start, safe = self._section_start(g, text)
            if safe > self._content_sent:
                content = text[self._content_sent:safe]
                self._content_sent = safe
            if start is None:
                return DeltaMessage(content=content) if content else None
            self._section = start
            self._scanned = start
        new_calls = self._complete_calls(g, text)
        if not content and not new_calls:
            return None
        return DeltaMessage(content=content or None, tool_calls=new_calls)

    def finish_streaming(self) -> DeltaMessage | None:
        """The end of a stream (any finish reason): the same final check as a non-streamed
        response; sends held-back content and calls not yet sent, or raises."""
        request = self._request
        if request is None:
            return None
        result = self._final(self._text, request)
        content = ""
        if len(result.content) > self._content_sent:  # text held back in case it began a call
            content = result.content[self._content_sent:]
            self._content_sent = len(result.content)
        deltas = self._new_call_deltas(result.calls)
        if not content and not deltas:
            return None
        return DeltaMessage(content=content or None, tool_calls=deltas)

    def _new_call_deltas(self, calls) -> list[DeltaToolCall]:
        deltas: list[DeltaToolCall] = []
        for call in calls[len(self.prev_tool_call_arr):]:
            oa = call.to_openai()
            fn = oa["function"]
            self.prev_tool_call_arr.append({"name": fn["name"], "arguments": fn["arguments"]})
            self.streamed_args_for_tool.append(fn["arguments"])
            self.current_tool_id = len(self.prev_tool_call_arr) - 1
            deltas.append(DeltaToolCall(
                index=self.current_tool_id, id=oa["id"], type="function",
                function=DeltaFunctionCall(name=fn["name"], arguments=fn["arguments"]),
            ))
        return deltas

    def _complete_calls(self, g: ToolGrammar, text: str) -> list[DeltaToolCall]:
        """Calls completed since the last delta, validated; raises for an invalid one."""
        # a streamed prefix is only worth parsing when it ends where a call section can end
        ends = g.output_format.end_chars
        candidates = [i + 1 for i in range(self._scanned, len(text)) if text[i] in ends]
        self._scanned = len(text)
        deltas: list[DeltaToolCall] = []
        for end in candidates:
            prefix = text[:end]
            try:
                result = parse_output(prefix, g)
            except ToolCallError as e:
                if e.kind not in ("parse", "truncated", "no_call"):  # a complete call that fails validation
                    raise self._reject(invalid_call_error(e, g, prefix)) from None
                continue
            self._parsed_upto = end
            deltas += self._new_call_deltas(result.calls)
        return deltas
