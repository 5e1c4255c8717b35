"""The experiment's chat template: ChatML with Hermes-style tools, kept short for tiny models.

Every student and teacher tokenizer gets this template, so TRL (which calls
``apply_chat_template(messages, tools=...)``) and ``structcall.generate`` (which uses a
tokenizer's template when it renders ``tools=``) see the same prompt, byte for byte.

* the system turn holds the system message, then one compact signature line per tool inside
  ``<tools>``: ``name(arg: type, optional?: "a"|"b") - description`` (enums as JSON literals,
  ``date``/``email`` formats by name, arrays as ``type[]``). The JSON schemas cost a third more
  tokens; the grammar, not the prompt, enforces every constraint under constrained decoding;
* the turns are the core's (:data:`structcall.models.CHATML_TOOL_TURNS`): assistant
  ``tool_calls`` render exactly as ``structcall.render.render_calls(calls, "hermes")`` writes a
  target: ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` blocks joined by
  ``\\n`` (arguments given as a JSON string are inserted verbatim);
* ``tool`` messages render as ``<tool_response>`` blocks inside one user turn (as Qwen2.5);
* assistant turns sit in ``{% generation %}`` blocks (TRL's ``assistant_only_loss``).
"""

from __future__ import annotations

from typing import Any

from structcall.models import CHATML_TOOL_TURNS

__all__ = ["CHAT_TEMPLATE", "install_chat_template"]

CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{%- set sys = messages[0]['content'] %}"
    "{%- else %}{%- set sys = 'You are a helpful assistant.' %}{%- endif %}"
    "{{- '<|im_start|>system\\n' + sys }}"
    "{%- if tools %}"
    "{{- '\\nCall tools as <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>, or reply in plain text if no tool fits.\\n<tools>' }}"
    "{%- for tool in tools %}"
    "{%- if tool['function'] is defined %}{%- set tool = tool['function'] %}{%- endif %}"
    "{%- set params = tool['parameters'] if tool['parameters'] is defined else {} %}"
    "{%- set props = params['properties'] if params['properties'] is defined else {} %}"
    "{%- set required = params['required'] if params['required'] is defined else [] %}"
    "{{- '\\n' + tool['name'] + '(' }}"
    "{%- for name, p in props.items() %}"
    "{%- if not loop.first %}{{- ', ' }}{%- endif %}"
    "{{- name }}{%- if name not in required %}{{- '?' }}{%- endif %}{{- ': ' }}"
    "{%- if p['enum'] is defined %}{{- p['enum'] | map('tojson') | join('|') }}"
    "{%- elif p['type'] is defined and p['type'] == 'array' and p['items'] is defined and p['items']['type'] is defined %}{{- p['items']['type'] + '[]' }}"
    "{%- elif p['format'] is defined %}{{- p['format'] }}"
    "{%- elif p['type'] is defined %}{{- p['type'] if p['type'] is string else p['type'] | join('|') }}"
    "{%- else %}{{- 'any' }}{%- endif %}"
    "{%- endfor %}"
    "{{- ')' }}{%- if tool['description'] is defined and tool['description'] %}{{- ' - ' + tool['description'] }}{%- endif %}"
    "{%- endfor %}"
    "{{- '\\n</tools>' }}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    + CHATML_TOOL_TURNS
)


def install_chat_template(tokenizer: Any, *, template: bool = True) -> Any:
    """Give ``tokenizer`` the experiment's template (``template``) and ChatML's end of turn.

    Sets EOS to ``<|im_end|>`` (the end of an assistant turn) and a pad token; the ChatML special
    tokens must exist. ``template=False`` keeps the tokenizer's own chat template (a pretrained
    model's), so structcall writes the tool prompt for the model's native format.
    """
    missing = [t for t in ("<|im_start|>", "<|im_end|>") if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]
    if missing:
        raise ValueError(f"tokenizer lacks the ChatML special tokens {missing}; the experiment's "
                         "chat template needs them (SmolLM2 and the tiny tokenizers have them)")
    if template or not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.eos_token = "<|im_end|>"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = "<|endoftext|>" if tokenizer.convert_tokens_to_ids("<|endoftext|>") is not None else tokenizer.eos_token
    return tokenizer
