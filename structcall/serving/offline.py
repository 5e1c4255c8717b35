"""Batch inference with ``vllm.LLM``: constrained generation plus validation, offline.

    from vllm import LLM
    from structcall.serving.offline import generate_tool_calls

    llm = LLM(model="...")
    results = generate_tool_calls(llm, conversations, tools, tool_choice="required",
                                  sampling={"temperature": 0.0, "max_tokens": 256})
    for r in results:
        print(r.calls if r.ok else r.error.feedback)

One grammar (compiled once with :func:`structcall.compile_tools`) constrains every
conversation of the batch through ``SamplingParams.structured_outputs``; every output is
then parsed and validated with :func:`structcall.parse_output`. The grammar dialect follows
the LLM's structured-outputs backend (llguidance Lark for ``guidance``, xgrammar EBNF
otherwise). This module does not import vllm itself: the ``SamplingParams`` come from
:mod:`structcall.serving.vllm_plugin`, imported when the function runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from structcall import ToolCallError, compile_tools
from structcall.formats import detect_format
from structcall.parse import ToolCall, parse_output

__all__ = ["OfflineResult", "generate_tool_calls", "llm_backend"]


@dataclass
class OfflineResult:
    """One conversation's output.

    Attributes:
        text: the generated text.
        content: text before the calls (the whole text for a plain answer; "" on error).
        calls: the validated calls (empty for a plain answer or on error).
        error: the `ToolCallError` when the output failed parsing or validation, else None.
        finish_reason: vLLM's finish reason ("stop", "length", ...).
    """

    text: str
    content: str
    calls: list[ToolCall] = field(default_factory=list)
    error: ToolCallError | None = None
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def llm_backend(llm) -> str | None:
    """The structured-outputs backend a ``vllm.LLM`` was built with ("auto", "xgrammar",
    "guidance", ...), or None when it cannot be read."""
    engine = getattr(llm, "llm_engine", None)
    config = getattr(getattr(engine, "vllm_config", None), "structured_outputs_config", None)
    return getattr(config, "backend", None)


def generate_tool_calls(
    llm,
    conversations: list[list[dict]],
    tools,
    *,
    tool_choice="auto",
    parallel_tool_calls: bool = True,
    format: str | None = None,
    strict: bool = False,
    sampling: dict[str, Any] | None = None,
    use_tqdm: bool = False,
) -> list[OfflineResult]:
    """Generate and validate tool calls for a batch of conversations with a ``vllm.LLM``.

    Args:
        llm: a ``vllm.LLM``.
        conversations: OpenAI-style message lists, one per prompt.
        tools: the tools, in any shape `structcall.compile_tools` accepts; they are rendered
            into the prompt by the model's chat template (``LLM.chat(tools=...)``).
        tool_choice: "auto", "required", "none" or a function name / OpenAI named choice.
        parallel_tool_calls: False admits exactly one call (enforced by the grammar).
        format: output format; default: detected from the LLM's chat template.
        strict: raise `UnsupportedSchemaError` for keywords the grammar cannot express.
        sampling: keyword arguments for ``vllm.SamplingParams`` (temperature, max_tokens, seed...).
        use_tqdm: show vLLM's progress bar.

    Returns one `OfflineResult` per conversation, in order. Invalid tools raise
    `SchemaError` before anything is generated.
    """
    from .vllm_plugin import dialect_for_backend, sampling_params

    fmt = format or detect_format(llm.get_tokenizer())
    g = compile_tools(tools, format=fmt, tool_choice=tool_choice,
                      parallel_tool_calls=parallel_tool_calls, strict=strict)
    params = sampling_params(g, dialect=dialect_for_backend(llm_backend(llm)), **(sampling or {}))
    outputs = llm.chat(conversations, params, tools=[s.to_openai() for s in g.specs], use_tqdm=use_tqdm)
    results: list[OfflineResult] = []
    for out in outputs:
        completion = out.outputs[0]
        text = completion.text
        try:
            parsed = parse_output(text, g)
        except ToolCallError as e:
            results.append(OfflineResult(text=text, content="", error=e, finish_reason=completion.finish_reason))
            continue
        results.append(OfflineResult(text=text, content=parsed.content, calls=parsed.calls,
                                     finish_reason=completion.finish_reason))
    return results
