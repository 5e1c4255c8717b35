"""Prompt rendering: the tokenizer's chat template, with tools when it really renders them.

If the chat template renders ``tools=`` (checked by rendering a probe tool, not assumed)
and its native call format is the one being decoded, the template does everything.
Otherwise structcall writes a tool-use system prompt for the chosen format (a Hermes
``<tools>`` block for ChatML models) and rewrites tool traffic in the history into plain
turns the template can render: assistant ``tool_calls`` become call text in the format,
``tool`` results become ``<tool_response>`` blocks in a user turn.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from structcall.formats import detect_format
from structcall.render import render_calls
from structcall.signatures import check_view, render_tool_list

__all__ = ["render_prompt", "template_renders_tools", "tool_system_prompt"]

_PROBE_NAME = "structcall_probe_tool_7f3a"
_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": _PROBE_NAME,
        "description": "probe",
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
    },
}

_LIST_INTRO = {
    "full": "You are provided with function signatures within <tools></tools> XML tags:",
    "compact": (
        "You are provided with function signatures within <tools></tools> XML tags, one per line "
        "as name(argument: type, ...) - what it does; an argument marked ? is optional:"
    ),
    "names": (
        "You are provided with the functions you can call within <tools></tools> XML tags, one "
        "per line as name - what it does:"
    ),
}


def tool_system_prompt(grammar: Any, *, tool_prompt: str = "full", shown: Any = None) -> str:
    """The tool-use instructions for ``grammar``'s tools, format and tool choice: the
    format's own system prompt where its family has one (SmolLM2), else structcall's
    default (the tools in a ``<tools>`` block, then the format's instructions).

    ``tool_prompt`` picks the view of the tool list (``"full"`` JSON schemas, ``"compact"``
    signatures or ``"names"``; see `structcall.signatures`); ``shown`` lists the tools to show
    (default: every tool of the grammar). The grammar holds the full schemas either way.
    """
    fmt = grammar.output_format
    specs = grammar.specs if shown is None else shown
    tools = render_tool_list(specs, check_view(tool_prompt))
    parallel = grammar.parallel_tool_calls and grammar.max_calls > 1
    choice = grammar.choice
    if choice.mode == "none":
        rule = "Do not call any function now: answer in plain text."
    elif choice.mode == "required":
        rule = "You must call at least one function."
    elif choice.mode == "auto":
        rule = "If no function fits, answer in plain text without calling any."
    else:
        rule = f"You must call the function {choice.name}."
    if choice.mode != "none" and not parallel:
        rule += " Make exactly one function call."
    if fmt.system_prompt is not None:
        if tool_prompt == "full":  # the family's own prompt shows the tools as one JSON list
            tools = json.dumps([s.to_openai() for s in specs], ensure_ascii=False)
        text = fmt.system_prompt.format(tools=tools)
        # the family's prompt already covers "auto" with parallel calls
        return text if choice.mode == "auto" and parallel else f"{text}\n\n{rule}"
    how = fmt.instructions.replace("{parallel}", fmt.parallel_hint if parallel else ".")
    return (
        "# Tools\n\nYou may call functions to assist with the user query.\n\n"
        f"{_LIST_INTRO[tool_prompt]}\n<tools>\n{tools}\n</tools>\n\n"
        f"{how}\n{rule}"
    )


@lru_cache(maxsize=64)
def _renders_tools(template: str, special_tokens: tuple[tuple[str, str], ...]) -> bool:
    from transformers.utils.chat_template_utils import render_jinja_template

    probe = [[{"role": "user", "content": "hello"}]]
    kwargs = dict(special_tokens)
    try:
        with_tools, _ = render_jinja_template(
            conversations=probe, tools=[_PROBE_TOOL], chat_template=template,
            add_generation_prompt=True, **kwargs,
        )
        without, _ = render_jinja_template(
            conversations=probe, tools=None, chat_template=template,
            add_generation_prompt=True, **kwargs,
        )
    except Exception:  # a template that fails on tools does not render them
        return False
    return _PROBE_NAME in with_tools[0] and _PROBE_NAME not in without[0]


def template_renders_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders ``tools=`` (checked with a probe tool)."""
    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str) or not template:
        return False
    special = tuple(sorted((k, str(v)) for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)))
    return _renders_tools(template, special)


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _hf_messages(messages: list[dict]) -> list[dict]:
    """OpenAI-shaped messages -> what HF chat templates expect (arguments as dicts)."""
    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = dict(c.get("function", c))
                fn["arguments"] = _arguments(fn.get("arguments", {}))
                calls.append({**c, "type": "function", "function": fn})
            m["tool_calls"] = calls
        if m.get("content") is None:
            m["content"] = ""
        out.append(m)
    return out


def _plain_messages(messages: list[dict], grammar: Any, tool_prompt: str | None) -> list[dict]:
    """Tool traffic rewritten as plain turns; ``tool_prompt`` appended to the system message."""
    out: list[dict] = []
    rest = list(messages)
    if tool_prompt is not None:
        system = tool_prompt
        if rest and rest[0].get("role") == "system":
            system = f"{rest.pop(0).get('content') or ''}\n\n{tool_prompt}"
        out.append({"role": "system", "content": system})
    for m in rest:
        role = m.get("role")
        content = m.get("content") or ""
        if not isinstance(content, str):
            raise ValueError(f"message content must be a string, got {type(content).__name__} in {m!r}")
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = c.get("function", c)
                calls.append({"name": fn["name"], "arguments": _arguments(fn.get("arguments", {})) or {}})
            fmt = grammar.format
            if grammar.output_format.text_before_call:
                text = render_calls(calls, fmt, tools=grammar.specs, content=content)
            else:
                text = (content + "\n" if content else "") + render_calls(calls, fmt, tools=grammar.specs)
            out.append({"role": "assistant", "content": text})
        elif role == "tool":
            block = f"<tool_response>\n{content}\n</tool_response>"
            if out and out[-1].get("_tool_turn"):
                out[-1]["content"] += "\n" + block
            else:
                out.append({"role": "user", "content": block, "_tool_turn": True})
        else:
            out.append({"role": role, "content": content})
    for m in out:
        m.pop("_tool_turn", None)
    return out


def render_prompt(tokenizer: Any, messages: list[dict] | str, grammar: Any, *,
                  tool_prompt: str = "full", shown: Any = None) -> str:
    """The prompt text for ``messages`` (OpenAI chat shape, or a single user string).

    Uses the chat template's own tool rendering when it has one, its native format is
    ``grammar.format`` and ``tool_prompt`` is ``"full"``; otherwise adds
    :func:`tool_system_prompt` (except for ``tool_choice="none"`` with no tools at all).
    ``tool_prompt`` and ``shown`` (the tools to show; default all of the grammar's) are as in
    :func:`tool_system_prompt`.
    """
    check_view(tool_prompt)
    shown_specs = grammar.specs if shown is None else list(shown)
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not messages:
        raise ValueError("messages is empty: give at least one message")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise ValueError(f"messages[{i}] must be a dict with a 'role', got {m!r}")
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "the tokenizer has no chat_template; set tokenizer.chat_template (for example "
            "structcall.models.CHATML_TEMPLATE) before generating"
        )
    if (shown_specs and tool_prompt == "full" and template_renders_tools(tokenizer)
            and detect_format(tokenizer) == grammar.format):
        return tokenizer.apply_chat_template(
            _hf_messages(messages), tools=[s.to_openai() for s in shown_specs],
            tokenize=False, add_generation_prompt=True,
        )
    system = tool_system_prompt(grammar, tool_prompt=tool_prompt, shown=shown_specs) if shown_specs else None
    plain = _plain_messages(messages, grammar, system)
    return tokenizer.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
