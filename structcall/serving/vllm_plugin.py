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
* parses and validates the output with :func:`structcall.parse_calls` (non-streaming and
  streaming alike). A streamed call is sent in one delta once it is complete and valid, so
  the streamed arguments are exactly the validated arguments. An output that still fails
  validation (a keyword the grammar cannot express, or a call cut off by ``max_tokens``)
  is reported as HTTP 422 (non-streaming) or as an error event (streaming), never as a
  tool call.

This is the only module of structcall that imports vllm.

Environment (read when a request is adjusted):
    STRUCTCALL_FORMAT: output format (``hermes``, ``json``, ``pythonic``, ``mistral``);
        default: detected from the tokenizer's chat template.
    STRUCTCALL_GRAMMAR: grammar dialect handed to vLLM: ``ebnf`` (default; xgrammar's
        EBNF, compiled natively by vLLM's default ``auto`` and ``xgrammar`` backends and
        converted by ``guidance``) or ``lark`` (llguidance's Lark; for
        ``--structured-outputs-config.backend guidance``).
    STRUCTCALL_MAX_CALLS: cap on parallel calls per response (default: structcall's
        `DEFAULT_MAX_CALLS`, 16). With a cap, the longest possible output is bounded, so a
        ``max_tokens`` that covers it never cuts a call.
"""

from __future__ import annotations

import json
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
from structcall.compile import ToolGrammar
from structcall.formats import FORMATS, detect_format
from structcall.parse import parse_output

__all__ = [
    "register",
    "StructcallToolParser",
    "ToolCallValidationError",
    "grammar_for_backend",
    "openai_call",
    "dialect_for_backend",
    "request_tools",
    "sampling_params",
    "structured_outputs_params",
]

logger = init_logger(__name__)

PARSER_NAME = "structcall"
GRAMMAR_DIALECTS = ("ebnf", "lark")

# The last character of every complete call section, per format: a streamed prefix is only
# worth parsing when it ends with one of these.
_SECTION_END_CHARS = {"hermes": ">", "json": "}]", "pythonic": "]", "mistral": "]}"}


def register() -> None:
    """vLLM ``general_plugins`` entry point: register the ``structcall`` tool parser (lazily:
    the parser module is imported when a server selects it)."""
    ToolParserManager.register_lazy_module(PARSER_NAME, __name__, "StructcallToolParser")


class ToolCallValidationError(VLLMUnprocessableEntityError):
    """The model's output is not a valid tool call for the request (HTTP 422)."""


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


def openai_call(call) -> dict:
    """`ToolCall.to_openai()`, with arguments that can always be sent as UTF-8.

    JSON admits lone surrogate escapes (``"\\udaf3"``); decoded, they cannot be encoded as
    UTF-8, and vLLM would fail to send the response. Such arguments are sent ASCII-escaped
    (the same JSON value)."""
    oa = call.to_openai()
    try:
        oa["function"]["arguments"].encode("utf-8")
    except UnicodeEncodeError:
        oa["function"]["arguments"] = json.dumps(call.arguments, ensure_ascii=True)
    return oa


def _unenforced_hint(g: ToolGrammar) -> str:
    notes = g.unenforced
    if not notes:
        return ""
    listed = "; ".join(f"{n.keyword} at {n.pointer or '/'}" for n in notes[:8])
    more = f" (and {len(notes) - 8} more)" if len(notes) > 8 else ""
    return f" Keywords checked only after decoding (the grammar cannot express them): {listed}{more}."


def invalid_call_error(err: ToolCallError, g: ToolGrammar, text: str) -> ToolCallValidationError:
    """The error reported for an output that fails parsing or validation."""
    shown = text if len(text) <= 400 else text[:400] + f"... ({len(text)} characters)"
    hint = " An unfinished call usually means that max_tokens was reached." if err.kind == "parse" else ""
    return ToolCallValidationError(
        f"structcall: the model's output is not a valid tool call ({err.kind} error at "
        f"{err.pointer or '/'}). {err.feedback}{hint}{_unenforced_hint(g)} "
        f"Model output: {json.dumps(shown, ensure_ascii=False)}",
        parameter="tool_calls",
    )


# ------------------------------------------------------------------------------ the parser
class StructcallToolParser(ToolParser):
    """Constrains tool calls with structcall's grammar and validates them after decoding.

    One instance serves one request (vLLM builds a new one per request and per choice).
    """

    # Route required/named tool_choice through extract_tool_calls* (native format) instead of
    # vLLM's generic JSON-array handling, and keep vLLM's own structural tags out of it.
    supports_required_and_named = False
    structural_tag_model = None

    def __init__(self, tokenizer, tools=None):
        super().__init__(tokenizer, tools)
        self._g: ToolGrammar | None = None
        self._g_request_id: int | None = None
        # streaming state
        self._content_sent = 0  # chars of the output already sent as content
        self._section: int | None = None  # where the call section starts
        self._scanned = 0  # chars of the section already scanned for a section end
        self._parsed_upto = 0  # end of the longest prefix that parsed
        # The end of a stream shows as the EOS token in the last delta; other special tokens are
        # not taken as an end (a free-text part may contain them).
        eos = getattr(tokenizer, "eos_token_id", None)
        self._end_ids = {eos} if isinstance(eos, int) else set()

    # -- grammar
    def _format(self) -> str:
        fmt = os.environ.get("STRUCTCALL_FORMAT")
        if fmt:
            if fmt not in FORMATS:
                raise ValueError(f"STRUCTCALL_FORMAT={fmt!r} is not an output format; known: {', '.join(FORMATS)}")
            return fmt
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
        fmt = self._format()
        max_calls = self._max_calls()
        try:
            g = compile_tools(
                tools,
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

    def adjust_request(self, request):
        if not request.tools or request.tool_choice == "none":
            return request
        g = self.grammar(request)
        own = request.extract_structured_outputs()
        if own is not None:
            if g.tool_choice == "auto":
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

    # -- non-streaming
    def extract_tool_calls(self, model_output: str, request) -> ExtractedToolCallInformation:
        g = self.grammar(request)
        try:
            result = parse_output(model_output, g)
        except ToolCallError as e:
            raise invalid_call_error(e, g, model_output) from None
        if not result.calls:
            return ExtractedToolCallInformation(tools_called=False, tool_calls=[], content=model_output)
        tool_calls = []
        for call in result.calls:
            oa = openai_call(call)
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
        if g.tool_choice != "auto":
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
        g = self.grammar(request)
        finished = any(t in self._end_ids for t in delta_token_ids)
        content = ""
        if self._section is None:
            start, safe = self._section_start(g, current_text)
            if finished and start is None:
                safe = len(current_text)
            if safe > self._content_sent:
                content = current_text[self._content_sent:safe]
                self._content_sent = safe
            if start is None:
                return DeltaMessage(content=content) if content else None
            self._section = start
            self._scanned = start
        new_calls = self._complete_calls(g, current_text, finished)
        if not content and not new_calls:
            return None
        return DeltaMessage(content=content or None, tool_calls=new_calls)

    def _complete_calls(self, g: ToolGrammar, text: str, finished: bool) -> list[DeltaToolCall]:
        """Calls completed since the last delta, validated; raises for an invalid one."""
        ends = _SECTION_END_CHARS.get(g.format, "")
        candidates = [i + 1 for i in range(self._scanned, len(text)) if text[i] in ends]
        self._scanned = len(text)
        if finished and len(text) > self._parsed_upto and len(text) not in candidates:
            candidates.append(len(text))
        deltas: list[DeltaToolCall] = []
        last_error: ToolCallError | None = None
        for end in candidates:
            prefix = text[:end]
            try:
                result = parse_output(prefix, g)
            except ToolCallError as e:
                if e.kind != "parse":  # a complete call that fails validation
                    raise invalid_call_error(e, g, prefix) from None
                last_error = e
                continue
            last_error = None
            self._parsed_upto = end
            for call in result.calls[len(self.prev_tool_call_arr):]:
                oa = openai_call(call)
                fn = oa["function"]
                self.prev_tool_call_arr.append({"name": fn["name"], "arguments": fn["arguments"]})
                self.streamed_args_for_tool.append(fn["arguments"])
                self.current_tool_id = len(self.prev_tool_call_arr) - 1
                deltas.append(DeltaToolCall(
                    index=self.current_tool_id, id=oa["id"], type="function",
                    function=DeltaFunctionCall(name=fn["name"], arguments=fn["arguments"]),
                ))
        if finished and self._parsed_upto < len(text.rstrip()):
            err = last_error or ToolCallError("parse", "", "the output ended inside a tool call")
            raise invalid_call_error(err, g, text)
        if finished and g.requires_call and not self.prev_tool_call_arr:
            raise invalid_call_error(ToolCallError("no_call", "", "a tool call is required, but the output has none"), g, text)
        return deltas
