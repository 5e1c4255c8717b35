"""Output formats as data: each format's accept/reject table (real outputs copied from the
family's documentation, chat template or vLLM's parser tests), run through every backend's
matcher; detection from chat templates; stopping; truncated parsing."""

from __future__ import annotations

import json

import pytest

from structcall import compile_tools, parse_calls
from structcall.formats import FORMATS, detect_format, load_format
from structcall.parse import parse_output, truncation_error
from structcall.render import render_calls
from structcall.split import CallSplitter
from structcall.testing import check_table
from tools_fixtures import SEARCH, WEATHER, function_tool

FINAL = function_tool("final_answer", {"trigger": {"type": "boolean"}}, ["trigger"])
FUNC1 = function_tool("func_name1", {"argument1": {"type": "string"}, "argument2": {"type": "string"}}, required=None)
TOOLS = [WEATHER, FINAL, SEARCH, FUNC1]


# Real outputs, copied: `source` says from where.
TABLES = {
    "hermes": [
        # vLLM tests/tool_parsers/test_hermes_tool_parser.py
        ('<tool_call>\n{"name": "final_answer", "arguments": {"trigger": true}}\n</tool_call>', True),
        ('Sure, let me check the weather.<tool_call>{"name": "get_weather", "arguments": {"city": "NYC"}}</tool_call>', True),
        ('<tool_call>{"name": "search", "arguments": {"q": "cats"}}</tool_call>'
         '<tool_call>{"name": "search", "arguments": {"q": "dogs"}}</tool_call>', True),
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "San Francisco", "unit": "celsius"}}</tool_call>', True),
        ("This is some prior text that has nothing to do with tool calling.", True),
        # Qwen2.5 / Hermes chat template rendering of a call, then the end of the turn
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n', True),
        # stopping: a separator never forces another call; bounded whitespace only
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>', False),
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' + "\n" * 5, False),
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call> more text', False),
    ],
    "smollm2": [
        # HuggingFaceTB/SmolLM2-1.7B-Instruct instructions_function_calling.md (the format example)
        ('<tool_call>[\n{"name": "func_name1", "arguments": {"argument1": "value1", "argument2": "value2"}}\n]</tool_call>', True),
        # "If no function call is needed, please make the tool calls an empty list '[]'"
        ("<tool_call>[]</tool_call>", True),
        ('<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
         '{"name": "search", "arguments": {"q": "dogs"}}]</tool_call>', True),
        ("I cannot answer this: none of the functions can be used.", True),  # "point it out and refuse"
        ('<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>\n', True),
        ('<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call><tool_call>', False),
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', False),  # a list, always
        ('Sure! <tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>', False),
    ],
    "mistral": [
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', True),
        ('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]', False),
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}},{"name": "search", "arguments": {"q": "x"}}]', True),
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]\n', True),
    ],
    "pythonic": [
        ('[get_weather(city="Paris", unit="celsius")]', True),
        ('[get_weather(city="Paris"),\nsearch(q="dogs")]', True),
        ('[get_weather(city="Paris")]\n', True),
        ('[get_weather(city="Paris")] thanks', False),
    ],
    "llama3_json": [
        # vLLM tests/tool_parsers/test_llama3_json_tool_parser.py (tools renamed to this file's)
        ('{"name": "search", "parameters": {"q": "test"}}', True),
        ('{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "search", "parameters": {"q": "test"}}', True),
        ('{"name": "search", "arguments": {"q": "test"}}', False),  # Llama writes "parameters"
        ("The weather is nice.", True),
        ('{"name": "search", "parameters": {"q": "test"}} ok', False),
    ],
    "deepseek_v3": [
        # DeepSeek V3 chat template rendering (sglang/llama.cpp parser tests)
        ('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Kyiv"}\n```'
         '<｜tool▁call▁end｜><｜tool▁calls▁end｜>', True),
        ("Let me look.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>search\n```json\n{\"q\": \"x\"}\n```"
         "<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Rome\"}\n```"
         "<｜tool▁call▁end｜><｜tool▁calls▁end｜>", True),
        ('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Kyiv"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>', False),
    ],
    "deepseek_v31": [
        # vLLM / llama.cpp DeepSeek V3.1 parser tests
        ("I'll check the weather.\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"NYC\"}"
         "<｜tool▁call▁end｜><｜tool▁calls▁end｜>", True),
        ('CONTENT<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>search<｜tool▁sep｜>{"q": "Paris"}<｜tool▁call▁end｜>'
         '<｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>', True),
        ('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city": "NYC"}<｜tool▁call▁end｜>'
         '<｜tool▁calls▁end｜><｜tool▁calls▁begin｜>', False),
    ],
    "harmony": [
        # gpt-oss harmony: a call on the commentary channel (openai/harmony docs, vLLM's openai parser tests)
        ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>', True),
        ('<|channel|>analysis<|message|>User wants weather.<|end|><|start|>assistant'
         '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>', True),
        # compact JSON separators, as harmony's examples write them: not in the grammar yet
        # (arguments use the canonical ", " / ": ")
        ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>', False),
        ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>'
         '<|channel|>commentary to=functions.search <|constrain|>json<|message|>{"q": "x"}<|call|>', False),  # one per message
    ],
    "qwen3_coder": [
        # the shape of vLLM's tests/tool_parsers/test_qwen3coder_tool_parser.py outputs
        ("<tool_call>\n<function=get_weather>\n<parameter=city>\nDallas\n</parameter>\n<parameter=unit>\nfahrenheit\n"
         "</parameter>\n</function>\n</tool_call>", True),
        ("Let me check.\n<tool_call>\n<function=final_answer>\n<parameter=trigger>\ntrue\n</parameter>\n</function>\n"
         "</tool_call>", True),
        ("<tool_call>\n<function=search>\n<parameter=q>\nline one\nline two\n</parameter>\n</function>\n</tool_call>\n"
         "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n</function>\n</tool_call>", True),
        ("<tool_call>\n<function=get_weather>\n<parameter=town>\nDallas\n</parameter>\n</function>\n</tool_call>", False),
        ("<tool_call>\n<function=get_weather>\n<parameter=city>\nDallas\n</parameter>\n</tool_call>", False),
    ],
    "json": [
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}', True),
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}\n', True),
        ('[{"name": "get_weather", "arguments": {"city": "Paris"}},\n {"name": "search", "arguments": {"q": "x"}}]', True),
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}{"name": "search", "arguments": {"q": "x"}}', False),
    ],
}


def test_every_format_has_a_table():
    assert set(TABLES) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_table_on_every_matcher(fmt):
    g = compile_tools(TOOLS, format=fmt)
    assert check_table(g, TABLES[fmt]) == []
    # the accepted outputs parse to calls (or to a plain answer), never to an error
    for text, ok in TABLES[fmt]:
        if ok:
            parse_calls(text, g)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendered_calls_round_trip_and_end(fmt):
    calls = [("get_weather", {"city": "Paris", "unit": "celsius"}), ("search", {"q": "a \"quoted\" word"})]
    if load_format(fmt).single_call:
        calls = calls[:1]
    text = render_calls(calls, fmt, tools=TOOLS)
    for choice in ("auto", "required"):
        g = compile_tools(TOOLS, format=fmt, tool_choice=choice)
        assert check_table(g, [(text, True), (text + "\n", True), (text + "\n\n\n\n\n", False)]) == []
        assert [(c.name, c.arguments) for c in parse_calls(text + "\n", g)] == calls


def test_smollm2_no_call_is_an_empty_list():
    g = compile_tools(TOOLS, format="smollm2", tool_choice="auto")
    assert parse_calls("<tool_call>[]</tool_call>", g) == []
    assert render_calls([], "smollm2") == "<tool_call>[]</tool_call>"
    req = compile_tools(TOOLS, format="smollm2", tool_choice="required")
    assert check_table(req, [("<tool_call>[]</tool_call>", False), ("I refuse.", False)]) == []
    none = compile_tools(TOOLS, format="smollm2", tool_choice="none")
    assert check_table(none, [("<tool_call>[]</tool_call>", True), ("Plain answer.", True),
                            ('<tool_call>[{"name": "search", "arguments": {"q": "x"}}]</tool_call>', False)]) == []


# chat-template fixtures: the marker each family's template carries
TEMPLATES = {
    "smollm2": "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}",
    "hermes": "{%- if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>"
              "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>{% endif %}",
    "mistral": "{%- if message.tool_calls %}[TOOL_CALLS][{% for c in message.tool_calls %}{{ c | tojson }}{% endfor %}]",
    "pythonic": "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]",
    "json": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}",
    "qwen3_coder": ("<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n"
                    "</parameter>\n</function>\n</tool_call>"),
    "llama3_json": ('Given the following functions, please respond with a JSON for a function call with its proper arguments '
                    'that best answers the given prompt.\n\nRespond in the format {"name": function name, "parameters": '
                    'dictionary of argument name and its value}. Do not use variables.'),
    "deepseek_v3": ("{{'<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + "
                    "'```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}"),
    "deepseek_v31": ("{{'<｜tool▁call▁begin｜>'+ tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments'] "
                     "+ '<｜tool▁call▁end｜>'}}"),
    "harmony": "{{- '<|start|>assistant<|channel|>commentary to=functions.' + name + ' <|constrain|>json<|message|>' }}",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_detect_format_from_template_fixtures(fmt):
    assert detect_format(TEMPLATES[fmt]) == fmt


def test_detect_format_reads_the_tokenizer_name_too():
    class Tok:
        chat_template = "<|im_start|>{{ m.content }}"
        name_or_path = "HuggingFaceTB/SmolLM2-360M-Instruct"

    assert detect_format(Tok()) == "smollm2"
    Tok.name_or_path = "Qwen/Qwen2.5-0.5B-Instruct"
    assert detect_format(Tok()) == "hermes"


# --------------------------------------------------------------------------- truncated parsing
@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_parse_keeps_complete_calls(fmt):
    calls = [("get_weather", {"city": "Paris"}), ("search", {"q": "dogs"}), ("final_answer", {"trigger": True})]
    if load_format(fmt).single_call:
        calls = calls[:1]
    text = render_calls(calls, fmt, tools=TOOLS)
    g = compile_tools(TOOLS, format=fmt)
    seen_cut = 0
    for cut in range(len(text) + 1):
        prefix = text[:cut]
        r = parse_output(prefix, g, truncated=True)
        got = [(c.name, c.arguments) for c in r.calls]
        assert got == calls[: len(got)], prefix  # never a call that is not in the output
        assert len({c.id for c in r.calls}) == len(r.calls)
        err = truncation_error(r)
        if err is not None:
            seen_cut += 1
            assert err.kind == "truncated" and err.pointer == f"/{len(got)}"
            assert r.truncated and r.truncated in prefix
    assert seen_cut > len(text) // 3
    # the whole output is complete: no cut
    r = parse_output(text, g, truncated=True)
    assert r.truncated is None and len(r.calls) == len(calls)


def test_truncated_parse_reports_invalid_complete_calls_with_the_cut():
    g = compile_tools(TOOLS, format="hermes")
    text = ('<tool_call>{"name": "get_weather", "arguments": {"town": "Paris"}}</tool_call>\n'
            '<tool_call>{"name": "search", "arguments": {"q": "d')
    with pytest.raises(Exception) as ei:
        parse_output(text, g, truncated=True)
    kinds = [k for k, _, _ in ei.value.errors]
    assert "truncated" in kinds and "missing_argument" in kinds


def test_splitter_reads_every_format_from_its_entry():
    for fmt in FORMATS:
        calls = [("get_weather", {"city": "a]b)c}"}), ("search", {"q": "x"})][: 1 if load_format(fmt).single_call else 2]
        text = render_calls(calls, fmt, tools=TOOLS)
        sp = CallSplitter(fmt)
        pieces = []
        for k in range(1, len(text) + 1):
            pieces += sp.feed(text[:k])
        assert [parse_calls(p, TOOLS, format=fmt)[0].arguments for p in pieces] == [a for _, a in calls], fmt
        assert sp.ends[-1] <= len(text)


def test_format_entry_is_the_one_place_for_envelopes():
    fmt = load_format("smollm2")
    assert fmt.wrap(['{"name": "f", "arguments": {}}']) == '<tool_call>[{"name": "f", "arguments": {}}]</tool_call>'
    assert json.loads(fmt.wrap(["1", "2"])[len("<tool_call>"):-len("</tool_call>")]) == [1, 2]


# ------------------------------------------------------------------------------ typed tool_choice
@pytest.mark.parametrize("tool_name", ["none", "auto", "required"])
def test_a_tool_named_like_a_mode_is_chosen_by_the_dict_shape(tool_name):
    from structcall.compile import ToolChoice

    odd = {"type": "function", "function": {"name": tool_name, "parameters": {
        "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}
    tools = [odd, SEARCH]
    g = compile_tools(tools, format="hermes", tool_choice={"type": "function", "function": {"name": tool_name}})
    assert g.choice == ToolChoice("function", tool_name) and g.requires_call and not g.allows_text
    mine = render_calls([(tool_name, {"x": 1})], "hermes", tools=tools)
    other = render_calls([("search", {"q": "a"})], "hermes", tools=tools)
    assert check_table(g, [(mine, True), (other, False), ("plain text", False), ("", False)]) == []
    assert [c.name for c in parse_calls(mine, g)] == [tool_name]
    with pytest.raises(Exception) as ei:
        parse_calls(other, g)
    assert ei.value.kind == "unknown_tool"
    # the Responses API's flat shape, and the typed value, mean the same
    flat = compile_tools(tools, format="hermes", tool_choice={"type": "function", "name": tool_name})
    typed = compile_tools(tools, format="hermes", tool_choice=ToolChoice("function", tool_name))
    assert flat.choice == typed.choice == g.choice and flat.cache_key == g.cache_key
    # the plain string is the mode, as in OpenAI's API
    mode = compile_tools(tools, format="hermes", tool_choice=tool_name)
    assert mode.choice == ToolChoice(tool_name) and mode.cache_key != g.cache_key


def test_tool_choice_value_checks():
    from structcall.compile import ToolChoice

    with pytest.raises(ValueError):
        ToolChoice("function")
    with pytest.raises(ValueError):
        ToolChoice("sometimes")
    with pytest.raises(ValueError, match="not among the tools"):
        compile_tools(TOOLS, tool_choice={"type": "function", "function": {"name": "none"}})
