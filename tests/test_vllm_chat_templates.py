"""Chat templates that put the tools into the prompt (structcall.serving.chat_templates) and the
export command that ships them inside a model folder (structcall.serving.export).

No vLLM here: the templates are rendered with transformers' own chat-template machinery, the
same Jinja renderer vLLM uses for Hugging Face tokenizers.
"""

from __future__ import annotations

import copy
import json

import pytest

from structcall import compile_tools
from structcall.decoding.prompt import render_prompt, template_renders_tools
from structcall.serving.chat_templates import chat_template, format_of_template, main, template_formats
from tools_fixtures import CITY, function_tool

TOOLS = [
    function_tool("get_weather", {"city": CITY}, ["city"], description="Current weather in a city."),
    function_tool("add", {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"], description="Add two integers."),
]
CONVERSATIONS = [
    [{"role": "user", "content": "What is the weather in Paris?"}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Add 2 and 3."}],
    [{"role": "user", "content": "Add 1 and 2."},
     {"role": "assistant", "content": "", "tool_calls": [
         {"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}]},
     {"role": "tool", "content": "3"}, {"role": "tool", "content": "(again) 3"},
     {"role": "assistant", "content": "It is 3."}, {"role": "user", "content": "And the weather in Oslo?"}],
    [{"role": "user", "content": "Two things."},
     {"role": "assistant", "content": "Sure.", "tool_calls": [
         {"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}},
         {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
     {"role": "tool", "content": "3"}],
]


def render(tokenizer, template, messages, tools=TOOLS):
    return tokenizer.apply_chat_template(copy.deepcopy(messages), tools=tools, chat_template=template,
                                         tokenize=False, add_generation_prompt=True)


@pytest.mark.parametrize("fmt", template_formats())
def test_template_gives_the_model_the_prompt_generate_writes(tiny_plain_tokenizer, fmt):
    # the plain ChatML tokenizer's own template ignores tools, like SmolLM2's
    assert not template_renders_tools(tiny_plain_tokenizer)
    template = chat_template(fmt)
    g = compile_tools(TOOLS, format=fmt, tool_choice="auto")
    for messages in CONVERSATIONS:
        served = render(tiny_plain_tokenizer, template, messages)
        assert served == render_prompt(tiny_plain_tokenizer, copy.deepcopy(messages), g)
    served = render(tiny_plain_tokenizer, template, CONVERSATIONS[0])
    for tool in TOOLS:
        assert json.dumps(tool["function"]["description"]) in served
    assert format_of_template(template) == fmt


def test_template_takes_tools_as_vllm_hands_them(tiny_plain_tokenizer):
    # vLLM passes `tool.model_dump()`: description, parameters and strict may be None
    dumped = [{"type": "function", "function": {"name": "ping", "description": None, "parameters": None, "strict": None}},
              {"type": "function", "function": {"name": "s", "description": "strict one", "strict": True,
                                                "parameters": TOOLS[1]["function"]["parameters"]}}]
    text = render(tiny_plain_tokenizer, chat_template("hermes"), CONVERSATIONS[0], tools=dumped)
    assert '{"type": "function", "function": {"name": "ping", "description": "", "parameters": {"type": "object", "properties": {}}}}' in text
    assert '"name": "s", "description": "strict one", "parameters": ' in text and '"strict": true}}' in text
    # arguments given as a JSON string (OpenAI's wire shape) are written as they are
    history = [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}]}]
    text = render(tiny_plain_tokenizer, chat_template("hermes"), history)
    assert '<|im_start|>assistant\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call><|im_end|>' in text


def test_without_tools_the_template_is_plain_chatml_with_the_default_system_turn(tiny_plain_tokenizer):
    template = chat_template("hermes", default_system="You are SmolLM.")
    plain = render(tiny_plain_tokenizer, template, CONVERSATIONS[0], tools=None)
    assert plain == ("<|im_start|>system\nYou are SmolLM.<|im_end|>\n<|im_start|>user\nWhat is the weather in Paris?"
                     "<|im_end|>\n<|im_start|>assistant\n")
    own_system = render(tiny_plain_tokenizer, template, CONVERSATIONS[1], tools=None)
    assert own_system.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>\n") and "SmolLM" not in own_system
    with_tools = render(tiny_plain_tokenizer, template, CONVERSATIONS[0])
    assert "SmolLM" not in with_tools and "<tools>" in with_tools


def test_formats_whose_calls_are_not_json_have_no_template():
    assert "pythonic" not in template_formats()
    with pytest.raises(ValueError, match="no chat template for the 'pythonic' format"):
        chat_template("pythonic")
    with pytest.raises(ValueError, match="unknown output format 'hermez'.*'hermes'"):
        chat_template("hermez")


def test_command_prints_the_template(capsys):
    assert main(["hermes"]) == 0
    assert capsys.readouterr().out.strip() == chat_template("hermes")


def test_export_command_writes_a_folder_whose_template_renders_tools(tmp_path, tiny_plain_tokenizer):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from structcall.models import build_tiny_model
    from structcall.serving.export import main as export_main

    src = tmp_path / "src"
    model = build_tiny_model(tiny_plain_tokenizer, hidden_size=32, num_hidden_layers=1, intermediate_size=64)
    model.save_pretrained(src)
    tiny_plain_tokenizer.save_pretrained(src)
    out = tmp_path / "out"
    assert export_main([str(src), str(out)]) == 0
    tok = AutoTokenizer.from_pretrained(out)
    assert template_renders_tools(tok) and format_of_template(tok.chat_template) == "hermes"
    assert (out / "chat_template.jinja").read_text() == tok.chat_template
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    for (name, p), q in zip(model.named_parameters(), reloaded.parameters()):
        assert p.shape == q.shape and bool((p == q).all()), name
    # a template that already renders tools is kept; 'own' keeps any template
    again = tmp_path / "again"
    assert export_main([str(out), str(again)]) == 0
    assert AutoTokenizer.from_pretrained(again).chat_template == tok.chat_template
    with pytest.raises(ValueError, match="neither 'auto', 'own', an output format"):
        export_main([str(src), str(tmp_path / "x"), "--chat-template", "no-such-thing"])
