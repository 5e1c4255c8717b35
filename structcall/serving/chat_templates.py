"""Chat templates that put the tools into the prompt, one per output format, for ChatML models.

Many small chat models (SmolLM2 among them) have a ChatML chat template that ignores
``tools``: served as they are, they never see a tool name. ``structcall.generate`` writes its
own tool prompt for them; a server renders prompts with the chat template alone, so it needs
a template that does the same. :func:`chat_template` builds that template for an output format:
the tool-use system prompt ``generate()`` writes (for ``tool_choice="auto"``), assistant tool
calls written in the format, tool results as ``<tool_response>`` blocks in a user turn, and
ChatML turns. The template is derived from ``structcall.decoding.prompt`` and
``structcall.render`` (the same text, not a copy) and checked against them when built.

Use it with vLLM's ``--chat-template`` (write it to a file first) or ship it inside an exported
model folder::

    python -m structcall.serving.chat_templates hermes > hermes.jinja
    vllm serve MODEL --chat-template hermes.jinja --tool-call-parser structcall ...

    python -m structcall.serving.export smollm2 ./smollm2-hf      # template included

This module imports nothing from vllm.
"""

from __future__ import annotations

import json
from functools import lru_cache

__all__ = ["chat_template", "format_of_template", "template_formats", "FORMAT_MARKER"]

#: Marker comment at the top of every template built here; the vLLM plugin reads the output
#: format from it (``{#- structcall-format: hermes -#}``).
FORMAT_MARKER = "structcall-format:"

_PROBE_TOOLS = [
    {"type": "function", "function": {
        "name": f"structcall_probe_{i}", "description": f"probe {i}",
        "parameters": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
    }}
    for i in (1, 2)
]

# A tool as ``ToolSpec.to_openai()`` writes it, from a request's tool dict (vLLM hands the
# template ``tool.model_dump()``: description/parameters/strict may be None).
_TOOL_JSON = (
    "{%- set fn = tool.function if tool.function is defined else tool %}"
    "{%- set params = fn.parameters if fn.parameters else {'type': 'object', 'properties': {}} %}"
    "{%- if fn.strict is defined and fn.strict is not none %}"
    "{{- {'type': 'function', 'function': {'name': fn.name, 'description': fn.description or '', "
    "'parameters': params, 'strict': fn.strict}} | tojson }}"
    "{%- else %}"
    "{{- {'type': 'function', 'function': {'name': fn.name, 'description': fn.description or '', "
    "'parameters': params}} | tojson }}"
    "{%- endif %}"
)


def _jinja_str(text: str) -> str:
    """`text` as a Jinja string literal (JSON string syntax is valid Jinja)."""
    return json.dumps(text, ensure_ascii=False)


def _split_around(text: str, parts: list[str], what: str) -> list[str]:
    """The pieces of `text` between consecutive `parts` (which must appear once, in order)."""
    pieces, rest = [], text
    for p in parts:
        i = rest.find(p)
        if i < 0 or rest.find(p, i + 1) >= 0:
            raise ValueError(f"cannot derive the chat template: {what} does not contain {p!r} exactly once")
        pieces.append(rest[:i])
        rest = rest[i + len(p):]
    pieces.append(rest)
    return pieces


def _tool_prompt_parts(fmt: str) -> tuple[str, str, str]:
    """(text before the tool list, text between two tools, text after the list) of the tool
    system prompt ``generate()`` writes for `fmt` with ``tool_choice="auto"``."""
    from structcall import compile_tools
    from structcall.decoding.prompt import tool_system_prompt

    g = compile_tools(_PROBE_TOOLS, format=fmt, tool_choice="auto")
    text = tool_system_prompt(g)
    dumps = [json.dumps(s.to_openai(), ensure_ascii=False) for s in g.specs]
    before, between, after = _split_around(text, dumps, f"the {fmt} tool prompt")
    return before, between, after


def _calls_parts(fmt: str) -> tuple[tuple[str, str], tuple[str, str, str]]:
    """How `fmt` wraps call bodies: ((before, after) one call, (before, between, after) two)."""
    from structcall.render import render_calls

    calls = [{"name": f"structcall_probe_{i}", "arguments": {"x": f"v{i}"}} for i in (1, 2)]
    bodies = [_call_body(fmt, c["name"], json.dumps(c["arguments"])) for c in calls]
    one = _split_around(render_calls(calls[:1], fmt, tools=_PROBE_TOOLS), bodies[:1], f"a {fmt} call")
    two = _split_around(render_calls(calls, fmt, tools=_PROBE_TOOLS), bodies, f"two {fmt} calls")
    return (one[0], one[1]), (two[0], two[1], two[2])


def _arguments_key(fmt: str) -> str:
    from structcall.formats import load_format

    f = load_format(fmt)
    if f.body != "json" or not f.arguments_key or f.call_template:
        raise ValueError(
            f"structcall has no chat template for the {fmt!r} format: its calls are not JSON objects. Models "
            "trained on it (Llama 3.2 pythonic, DeepSeek, gpt-oss, ...) ship chat templates that render tools themselves"
        )
    return f.arguments_key


def _call_body(fmt: str, name: str, arguments_json: str) -> str:
    return '{"name": ' + json.dumps(name, ensure_ascii=False) + f', "{_arguments_key(fmt)}": ' + arguments_json + "}"


def _default_system_block(default_system: str | None) -> str:
    if default_system is None:
        return ""
    return "{{- '<|im_start|>system\\n' + " + _jinja_str(default_system) + " + '<|im_end|>\\n' }}"


@lru_cache(maxsize=32)
def chat_template(format: str = "hermes", *, default_system: str | None = None) -> str:
    """A ChatML chat template (Jinja) that renders ``tools`` the way ``generate()`` prompts
    for output format `format`.

    With tools, the system turn is the conversation's own system message (if any), a blank
    line, then structcall's tool prompt for the format (the ``tool_choice="auto"`` wording,
    since a template does not see the tool choice); the grammar enforces the tool choice
    itself. Assistant ``tool_calls`` in the history are written in the format, ``tool``
    results as ``<tool_response>`` blocks in one user turn. Without tools the conversation is
    plain ChatML, with `default_system` as the system turn when the conversation has none
    (SmolLM2's own template adds one). Formats whose calls are not JSON objects (pythonic)
    raise `ValueError`.
    """
    from structcall.formats import check_format, load_format

    check_format(format)
    args_key = _arguments_key(format)
    before, between, after = _tool_prompt_parts(format)
    (one_before, one_after), (many_before, many_between, many_after) = _calls_parts(format)
    text_before_call = load_format(format).text_before_call
    q = _jinja_str
    call_json = (
        "{%- set tc = tool_call.function if tool_call.function is defined else tool_call %}"
        "{{- '{\"name\": ' + (tc.name | tojson) + ', \"" + args_key + "\": ' }}"
        "{%- if tc.arguments is string %}{{- tc.arguments }}{%- else %}{{- (tc.arguments or {}) | tojson }}{%- endif %}"
        "{{- '}' }}"
    )
    if text_before_call:
        content_then_calls = "{%- if message.content %}{{- message.content }}{%- endif %}"
    else:
        content_then_calls = "{%- if message.content %}{{- message.content + '\\n' }}{%- endif %}"
    return (
        f"{{#- {FORMAT_MARKER} {format} -#}}"
        # ---- system turn: own system message + the tool prompt
        "{%- set has_system = messages and messages[0].role == 'system' %}"
        "{%- if tools %}"
        "{{- '<|im_start|>system\\n' }}"
        "{%- if has_system and messages[0].content %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
        f"{{{{- {q(before)} }}}}"
        "{%- for tool in tools %}"
        f"{{%- if not loop.first %}}{{{{- {q(between)} }}}}{{%- endif %}}"
        + _TOOL_JSON +
        "{%- endfor %}"
        f"{{{{- {q(after)} + '<|im_end|>\\n' }}}}"
        "{%- elif has_system %}"
        "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
        "{%- else %}"
        + _default_system_block(default_system) +
        "{%- endif %}"
        # ---- the conversation
        "{%- for message in messages %}"
        "{%- if loop.first and has_system %}"
        "{%- elif message.role == 'assistant' and message.tool_calls %}"
        "{{- '<|im_start|>assistant\\n' }}"
        + content_then_calls +
        "{%- if message.tool_calls | length == 1 %}"
        f"{{{{- {q(one_before)} }}}}"
        "{%- for tool_call in message.tool_calls %}" + call_json + "{%- endfor %}"
        f"{{{{- {q(one_after)} }}}}"
        "{%- else %}"
        f"{{{{- {q(many_before)} }}}}"
        "{%- for tool_call in message.tool_calls %}"
        f"{{%- if not loop.first %}}{{{{- {q(many_between)} }}}}{{%- endif %}}"
        + call_json +
        "{%- endfor %}"
        f"{{{{- {q(many_after)} }}}}"
        "{%- endif %}"
        "{{- '<|im_end|>\\n' }}"
        "{%- elif message.role == 'tool' %}"
        "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user\\n' }}"
        "{%- else %}{{- '\\n' }}{%- endif %}"
        "{{- '<tool_response>\\n' + (message.content or '') + '\\n</tool_response>' }}"
        "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
        "{%- else %}"
        "{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>\\n' }}"
        "{%- endif %}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    )


def template_formats() -> tuple[str, ...]:
    """The output formats :func:`chat_template` builds a template for (those whose calls are
    JSON objects)."""
    from structcall.formats import FORMATS, load_format

    return tuple(f for f in FORMATS if load_format(f).body == "json" and load_format(f).arguments_key
                 and not load_format(f).call_template)


def format_of_template(template: str | None) -> str | None:
    """The output format named by a template built here (its marker comment), else None."""
    if not isinstance(template, str):
        return None
    head = template[:200]
    i = head.find(FORMAT_MARKER)
    if i < 0:
        return None
    name = head[i + len(FORMAT_MARKER):].split("-#}", 1)[0].strip()
    return name or None


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m structcall.serving.chat_templates",
        description="Print a ChatML chat template that renders tools for an output format "
        "(for vLLM's --chat-template).",
    )
    parser.add_argument("format", choices=template_formats(), help="output format the model writes calls in")
    parser.add_argument("--default-system", default=None,
                        help="system turn to add when a conversation without tools has none")
    args = parser.parse_args(argv)
    print(chat_template(args.format, default_system=args.default_system))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
