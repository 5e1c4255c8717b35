"""Output formats as data: each format's accept/reject table (real outputs copied from the
family's documentation, chat template or vLLM's parser tests), run through every backend's
matcher; detection from chat templates; stopping; truncated parsing."""

from __future__ import annotations

import json

import pytest

from structcall import compile_tools, parse_calls
from structcall.formats import FORMATS, detect_format, load_format
from structcall.errors import SchemaError, ToolCallError
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
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('<tool_call>{"name":"get_weather","arguments":{"city":"Paris","unit":"celsius"}}</tool_call>', True),
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris", "unit":"celsius"}}\n</tool_call>', True),
        ('<tool_call>{"name":"get_weather","arguments":{"city":"Paris","unit":"kelvin"}}</tool_call>', False),
        ('<tool_call>{"name":"search","arguments":{}}</tool_call>', False),
        ('<tool_call>{"name": "get_weather", "arguments": {"city":  "Paris"}}</tool_call>', False),
        ('<tool_call>{"name": "get_weather", "arguments": {"city" : "Paris"}}</tool_call>', False),
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
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('<tool_call>[{"name":"get_weather","arguments":{"city":"Paris"}},{"name":"search","arguments":{"q":"dogs"}}]</tool_call>', True),
        ('<tool_call>[{"name":"get_weather","arguments":{"town":"Paris"}}]</tool_call>', False),
        ('<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call><tool_call>', False),
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', False),  # a list, always
        ('Sure! <tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>', False),
    ],
    "mistral": [
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', True),
        ('[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]', False),
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}},{"name": "search", "arguments": {"q": "x"}}]', True),
        ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]\n', True),
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('[TOOL_CALLS][{"name":"get_weather","arguments":{"city":"Paris","unit":"fahrenheit"}}]', True),
        ('[TOOL_CALLS][{"name":"get_weather","arguments":{"city":"Paris","unit":"F"}}]', False),
    ],
    "pythonic": [
        ('[get_weather(city="Paris", unit="celsius")]', True),
        # Llama 3.2's documented output (vLLM tests/tool_parsers/test_pythonic_tool_parser.py): Python's quotes
        ("[get_weather(city='San Francisco', unit='celsius')]", True),
        ("[get_weather(city='Martha\\'s Vineyard'), search(q='\\\"cool units\\\"')]", True),
        ("[get_weather(city='Paris', unit='kelvin')]", False),
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
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('{"name":"search","parameters":{"q":"test"}}', True),
        ('{"name":"search","parameters":{"q":1}}', False),
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
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"city":"NYC","unit":"celsius"}<｜tool▁call▁end｜>'
         '<｜tool▁calls▁end｜>', True),
        ('<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{"unit":"celsius"}<｜tool▁call▁end｜>'
         '<｜tool▁calls▁end｜>', False),
    ],
    "harmony": [
        # gpt-oss harmony: a call on the commentary channel (openai/harmony docs, vLLM's openai parser tests)
        ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>', True),
        ('<|channel|>analysis<|message|>User wants weather.<|end|><|start|>assistant'
         '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>', True),
        # compact JSON separators, as harmony's examples write them
        ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>', True),
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
    "kimi_k2": [
        # vLLM tests/tool_parsers/test_kimi_k2_tool_parser.py (its _tool() writes a space before
        # <|tool_call_argument_begin|>)
        ("I'll check. <|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0 <|tool_call_argument_begin|>"
         '{"city": "Beijing"}<|tool_call_end|><|tool_calls_section_end|>', True),
        ("Compare weather. <|tool_calls_section_begin|>"
         '<|tool_call_begin|>functions.get_weather:0 <|tool_call_argument_begin|>{"city": "Beijing"}<|tool_call_end|>'
         '<|tool_call_begin|>functions.get_weather:1 <|tool_call_argument_begin|>{"city": "Shanghai"}<|tool_call_end|>'
         "<|tool_calls_section_end|>", True),
        # Kimi-K2-Thinking chat template rendering (render_toolcalls: id, then the arguments)
        ('<|tool_calls_section_begin|><|tool_call_begin|>functions.search:3<|tool_call_argument_begin|>{"q": "cats"}'
         "<|tool_call_end|><|tool_calls_section_end|>", True),
        ("This is a test", True),
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('<|tool_calls_section_begin|><|tool_call_begin|>functions.search:0<|tool_call_argument_begin|>{"q":"cats"}'
         "<|tool_call_end|><|tool_calls_section_end|>", True),
        # the id without the template's functions. prefix (vLLM's no_functions_prefix case): not in the grammar
        ('<|tool_calls_section_begin|><|tool_call_begin|>get_weather:0 <|tool_call_argument_begin|>{"city": "Tokyo"}'
         "<|tool_call_end|><|tool_calls_section_end|>", False),
        ('<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather <|tool_call_argument_begin|>{"city": "Tokyo"}'
         "<|tool_call_end|><|tool_calls_section_end|>", False),  # no call number
        ('<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Tokyo"}'
         "<|tool_call_end|><|tool_calls_section_end|> more", False),
    ],
    "glm": [
        # vLLM tests/tool_parsers/test_glm4_moe_tool_parser.py (GLM-4.5; arguments mapped to this file's tools)
        ("I will help you get the weather.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>\n"
         "</tool_call>", True),
        ("<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>\n</tool_call>", True),
        ("<tool_call>func_name1\n</tool_call>", True),  # a call without arguments
        # GLM-4.6 chat template rendering: each call after a newline, non-text values as JSON
        ("<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Orlando</arg_value>\n<arg_key>unit</arg_key>\n"
         "<arg_value>fahrenheit</arg_value>\n</tool_call>\n<tool_call>final_answer\n<arg_key>trigger</arg_key>\n"
         "<arg_value>true</arg_value>\n</tool_call>", True),
        # text between the calls (vLLM's mixed_content case): parsed, but not in the grammar
        ("I will help you get the weather info.\n\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing"
         "</arg_value>\n</tool_call>\n\nmeaningwhile, I will also check the weather in Shanghai.\n\n<tool_call>get_weather\n"
         "<arg_key>city</arg_key>\n<arg_value>Shanghai</arg_value>\n</tool_call>", False),
        # cut before </tool_call> (vLLM's incomplete_tool_call case)
        ("<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>", False),
        ("<tool_call>get_weather\n<arg_key>town</arg_key>\n<arg_value>Beijing</arg_value>\n</tool_call>", False),
        ("<tool_call>final_answer\n<arg_key>trigger</arg_key>\n<arg_value>yes</arg_value>\n</tool_call>", False),
    ],
    "minimax_m2": [
        # vLLM tests/tool_parsers/test_minimax_m2_tool_parser.py (no newlines between the tags)
        ('Let me check. <minimax:tool_call><invoke name="get_weather"><parameter name="city">Seattle</parameter>'
         "</invoke></minimax:tool_call>", True),
        ('<minimax:tool_call><invoke name="search"><parameter name="q">OpenAI</parameter></invoke>'
         '<invoke name="search"><parameter name="q">Gemini</parameter></invoke></minimax:tool_call>', True),
        # MiniMax-M2 chat template rendering: a newline after each tag
        ('<minimax:tool_call>\n<invoke name="get_weather">\n<parameter name="city">NYC</parameter>\n'
         '<parameter name="unit">celsius</parameter>\n</invoke>\n</minimax:tool_call>', True),
        ("Hello world", True),
        ('<minimax:tool_call><invoke name="get_weather"><parameter name="city">NYC</parameter></invoke>', False),
        ('<minimax:tool_call><invoke name="get_weather"><parameter name="unit">kelvin</parameter></invoke></minimax:tool_call>', False),
        ('<minimax:tool_call><invoke name="get_weather"><parameter name="city">NYC</parameter></invoke></minimax:tool_call>'
         "<minimax:tool_call>", False),
    ],
    "deepseek_v32": [
        # vLLM tests/tool_parsers/test_deepseekv32_tool_parser.py (build_tool_call; tools mapped to this file's)
        ('Sure, let me check! <｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n'
         '<｜DSML｜parameter name="city" string="true">NYC</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>', True),
        ('<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="city" string="true">SF'
         '</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="city" '
         'string="true">NYC</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>', True),
        ('<｜DSML｜function_calls>\n<｜DSML｜invoke name="final_answer">\n<｜DSML｜parameter name="trigger" string="false">true'
         '</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>', True),
        ("just some text", True),
        # the string attribute must match the value's encoding (a boolean is JSON: string="false")
        ('<｜DSML｜function_calls>\n<｜DSML｜invoke name="final_answer">\n<｜DSML｜parameter name="trigger" string="true">true'
         '</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>', False),
        ('<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n<｜DSML｜parameter name="city" string="true">NYC'
         '</｜DSML｜parameter>\n</｜DSML｜invoke>\n', False),
    ],
    "functiongemma": [
        # FunctionGemma formatting guide (ai.google.dev), the model's documented outputs (location -> city)
        ("<start_function_call>call:get_weather{city:<escape>Tokyo, Japan<escape>}<end_function_call>", True),
        ("<start_function_call>call:get_weather{city:<escape>Paris<escape>,unit:<escape>celsius<escape>}<end_function_call>", True),
        # vLLM tests/tool_parsers/test_functiongemma_tool_parser.py
        ("Let me check the weather for you. <start_function_call>call:get_weather{city:<escape>Paris<escape>}"
         "<end_function_call>", True),
        ("<start_function_call>call:get_weather{city:<escape>London<escape>}<end_function_call>"
         "<start_function_call>call:search{q:<escape>UTC<escape>}<end_function_call>", True),
        ("Hello, how can I help you today?", True),
        # booleans and numbers are written bare (the template's format_argument); vLLM's parser coerces
        # <escape>true<escape>, the grammar does not generate it
        ("<start_function_call>call:final_answer{trigger:true}<end_function_call>", True),
        ("<start_function_call>call:final_answer{trigger:<escape>true<escape>}<end_function_call>", False),
        ('<start_function_call>call:get_weather{city:"Paris"}<end_function_call>', False),
        ("<start_function_call>call:get_weather{town:<escape>Paris<escape>}<end_function_call>", False),
        ("<start_function_call>call:get_weather{city:<escape>Paris<escape>}", False),
    ],
    "json": [
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}', True),
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}\n', True),
        ('[{"name": "get_weather", "arguments": {"city": "Paris"}},\n {"name": "search", "arguments": {"q": "x"}}]', True),
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}{"name": "search", "arguments": {"q": "x"}}', False),
        # compact separators (json.dumps(separators=(",", ":"))): bounded, the schema still holds
        ('{"name":"get_weather","arguments":{"city":"Paris"}}', True),
        ('[{"name":"get_weather","arguments":{"city":"Paris"}},{"name":"search","arguments":{"q":"x"}}]', True),
        ('{"name":"get_weather","arguments":{"city":"Paris","unit":"kelvin"}}', False),
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


XML_FORMATS = [f for f in FORMATS if load_format(f).body == "xml"]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_xml_parameter_formats_report_what_they_cannot_enforce(fmt):
    # parameters are generated from properties/required alone: a keyword on the arguments
    # object is the validator's, and said so; raw text cannot hold '<' (a recorded cap)
    tool = {"type": "function", "function": {"name": "pair", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "not": {"required": ["a", "b"]}}}}
    g = compile_tools([tool], format=fmt)
    assert [n.keyword for n in g.unenforced] == ["not"]
    assert any("no '<'" in n.detail for n in g.capped)
    text = render_calls([("pair", {"a": "x", "b": "y"})], fmt, tools=[tool])
    assert check_table(g, [(text, True)]) == []  # the grammar cannot exclude it
    with pytest.raises(ToolCallError) as ei:
        parse_calls(text, g)
    assert ei.value.pointer == "/0/arguments"
    assert [c.arguments for c in parse_calls(render_calls([("pair", {"a": "x"})], fmt, tools=[tool]), g)] == [{"a": "x"}]


def test_functiongemma_rejects_what_its_notation_would_need_and_parses_it():
    nested = function_tool("book", {"to": {"type": "string"}, "stops": {"type": "array", "items": {"type": "string"}}})
    with pytest.raises(SchemaError) as ei:
        compile_tools([nested], format="functiongemma")
    assert ei.value.problems[0].pointer.endswith("/properties/stops") and "notation of its own" in str(ei.value)
    # rendered and parsed in the model's own notation (bare keys, <escape> text) all the same
    text = render_calls([("book", {"to": "Oslo", "stops": ["A, B", "C"]})], "functiongemma", tools=[nested])
    assert text == ("<start_function_call>call:book{to:<escape>Oslo<escape>,stops:[<escape>A, B<escape>,<escape>C<escape>]}"
                    "<end_function_call>")
    assert parse_calls(text, [nested], format="functiongemma")[0].arguments == {"to": "Oslo", "stops": ["A, B", "C"]}


def test_deepseek_v32_string_attribute_follows_the_value_encoding():
    text = render_calls([("final_answer", {"trigger": False}), ("search", {"q": "5"})], "deepseek_v32", tools=TOOLS)
    assert 'name="trigger" string="false">false<' in text and 'name="q" string="true">5<' in text
    assert [c.arguments for c in parse_calls(text, TOOLS, format="deepseek_v32")] == [{"trigger": False}, {"q": "5"}]


def test_kimi_k2_numbers_its_calls_and_parses_any_number():
    text = render_calls([("search", {"q": "a"}), ("search", {"q": "b"})], "kimi_k2", tools=TOOLS)
    assert "functions.search:0<" in text and "functions.search:1<" in text
    later = text.replace(":0<", ":7<").replace(":1<", ":8<")  # ids count on over the conversation
    g = compile_tools(TOOLS, format="kimi_k2")
    assert check_table(g, [(later, True)]) == []
    assert [c.arguments["q"] for c in parse_calls(later, g)] == ["a", "b"]
    with pytest.raises(ToolCallError) as ei:
        parse_calls(text.replace("functions.search:0", "functions.search"), g)
    assert ei.value.pointer == "/0/name"


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
    # FunctionGemma's documented developer turn (ai.google.dev FunctionGemma formatting guide)
    "functiongemma": ("<start_of_turn>developer\nYou are a model that can do function calling with the following functions"
                      "<start_function_declaration>declaration:get_current_weather{description:<escape>Gets the current "
                      "weather in a given location.<escape>}<end_function_declaration><end_of_turn>"),
    # ggml-org/llama.cpp models/templates/moonshotai-Kimi-K2-Thinking.jinja (render_toolcalls)
    "kimi_k2": ("{%- macro render_toolcalls(message) -%}\n  <|tool_calls_section_begin|>\n  {%- for tool_call in "
                "message['tool_calls'] -%}\n    {%- set formatted_id = tool_call['id'] -%}\n    <|tool_call_begin|>"
                "{{ formatted_id }}<|tool_call_argument_begin|>"),
    # ggml-org/llama.cpp models/templates/GLM-4.6.jinja
    "glm": ("For each function call, output the function name and arguments within the following XML format:\n"
            "<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n"),
    # ggml-org/llama.cpp models/templates/unsloth-MiniMax-M2.jinja
    "minimax_m2": ("{%- set toolcall_begin_token   = '<minimax:tool_call>'         -%}\n"
                   "{%- set toolcall_end_token     = '</minimax:tool_call>'        -%}"),
    # ggml-org/llama.cpp models/templates/DeepSeek-V3.2.jinja
    "deepseek_v32": ('{%- set dsml_token = "｜DSML｜" -%}\n<{{ dsml_token }}invoke name="$FUNCTION_NAME">\n'
                     '<{{ dsml_token }}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE'
                     "</{{ dsml_token }}parameter>"),
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


# The model outputs of vLLM's pythonic tool-parser tests (tests/tool_parsers/test_pythonic_tool_parser.py;
# the first is Llama 3.2's documented response format), with tools written for their arguments
VLLM_PYTHONIC_TOOLS = [
    function_tool("get_weather", {"city": {"type": "string"}, "metric": {"type": "string"}}, required=None),
    function_tool("register_user", {
        "name": {"type": "string"}, "age": {"type": "integer"},
        "address": {"type": "object", "properties": {"city": {"type": "string"}, "state": {"type": "string"}}},
        "role": {"type": ["string", "null"]}, "passed_test": {"type": "boolean"},
        "aliases": {"type": "array", "items": {"type": "string"}}}, required=None),
    function_tool("do_something_cool", {"additional_data": {"type": "object"}, "steps": {"type": "array"}}, required=None),
]
VLLM_SIMPLE = "get_weather(city='San Francisco', metric='celsius')"
VLLM_MORE_TYPES = ("register_user(name='John Doe', age=37, address={'city': 'San Francisco', 'state': 'CA'}, role=None, "
                   "passed_test=True, aliases=['John', 'Johnny'])")
VLLM_PYTHONIC = [
    (f"[{VLLM_SIMPLE}]", [("get_weather", {"city": "San Francisco", "metric": "celsius"})]),
    (f"[{VLLM_MORE_TYPES}]", [("register_user", {"name": "John Doe", "age": 37, "address": {"city": "San Francisco", "state": "CA"},
                                                 "role": None, "passed_test": True, "aliases": ["John", "Johnny"]})]),
    ("[get_weather()]", [("get_weather", {})]),
    ("[do_something_cool(additional_data={})]", [("do_something_cool", {"additional_data": {}})]),
    ("[do_something_cool(steps=[])]", [("do_something_cool", {"steps": []})]),
    (r"""[get_weather(city='Martha\'s Vineyard', metric='\"cool units\"')]""",
     [("get_weather", {"city": "Martha's Vineyard", "metric": '"cool units"'})]),
    (f"[{VLLM_SIMPLE}, {VLLM_MORE_TYPES}]", None),  # both calls above
]


def test_vllm_pythonic_parser_outputs_are_in_the_grammar():
    g = compile_tools(VLLM_PYTHONIC_TOOLS, format="pythonic", tool_choice="required")
    assert check_table(g, [(text, True) for text, _ in VLLM_PYTHONIC]) == []
    for text, calls in VLLM_PYTHONIC:
        got = [(c.name, c.arguments) for c in parse_calls(text, g)]
        assert got == (calls if calls is not None else VLLM_PYTHONIC[0][1] + VLLM_PYTHONIC[1][1]), text
    # the schema still holds in Python's quoting: a wrong type, an unknown key of a declared object
    assert check_table(g, [("[register_user(age='37')]", False), ("[register_user(address={'town': 'Oslo'})]", False),
                           ("[get_weather(city='Oslo', unit='celsius')]", False)]) == []


def test_pythonic_single_quotes_everywhere_a_string_goes():
    # BFCL's gold answers as Python writes them: formats, patterns, free-form values and dict keys
    tool = function_tool("f", {
        "d": {"type": "string", "format": "date"}, "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "s": {"type": "string", "pattern": "^a[\"']b$"}, "data": {}, "cards": {"type": "object"},
        "at": {"type": "object", "properties": {"lat": {"type": "number"}}, "additionalProperties": False}}, required=None)
    g = compile_tools([tool], format="pythonic", tool_choice="required")
    assert check_table(g, [
        ("[f(d='2019-12-13')]", True), ('[f(d="2019-12-13")]', True), ("[f(d='2019-12-1')]", False),
        ("[f(code='ABC')]", True), ("[f(code='AB')]", False), ("[f(code='ABC\")]", False),
        ("[f(s='a\\'b')]", True), ("[f(s='a\"b')]", True), ('[f(s="a\'b")]', True), ("[f(s='a'b')]", False),
        ("[f(data='my_data')]", True), ("[f(data={'k': ['v', 1, None]})]", True), ("[f(data='x\")]", False),
        ("[f(cards={'Alex': [['A of spades']], \"Sam\": []})]", True), ("[f(cards={'Alex': 'x\"})]", False),
        ("[f(at={'lat': 1.5})]", True), ("[f(at={'lon': 1.5})]", False),
    ]) == []
    call = parse_calls("[f(d='2019-12-13', data={'k': 'v'}, cards={'Alex': []})]", g)[0]
    assert call.arguments == {"d": "2019-12-13", "data": {"k": "v"}, "cards": {"Alex": []}}


def test_the_readme_formats_table_is_the_format_data():
    """The README's table of formats, families and detection markers is the registry's own rows."""
    from pathlib import Path

    from structcall.formats import format_table, load_format

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = readme.split("<!-- formats table:", 1)[1].splitlines()[3:]  # after the header rows
    expected = [f"| `{name}` | {families} | "
                + (", ".join(f"`{d}`" for d in load_format(name).detect) or "the default") + " |"
                for name, families, _ in format_table()]
    assert lines[:len(expected)] == expected
    assert not lines[len(expected)].startswith("|")  # no stale extra row
