"""``generate`` / ``generate_batch`` / ``stream_generate`` on the tiny random-weight Llama."""

from __future__ import annotations

import importlib.util
import json

import pytest

from structcall import ToolCallError, parse_calls
from structcall.decoding import (
    BackendError,
    ToolCallRetryError,
    generate,
    generate_batch,
    render_prompt,
    stream_generate,
    template_renders_tools,
)
from structcall.decoding.prompt import tool_system_prompt
from structcall.formats import load_format
from structcall.schema import Limits
from structcall import compile_tools
from tools_fixtures import ADD, weather_tool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOOLS = [weather_tool("Weather in a city."), ADD]
SMALL = {"max_calls": 3, "limits": Limits(max_string_length=20, max_number_digits=6)}
ASK = "What's the weather in Paris? Also add 2 and 3."
KINDS = {"parse", "truncated", "unknown_tool", "unknown_argument", "missing_argument", "type", "value", "count", "no_call"}


def _requests(n):
    return [[{"role": "user", "content": ASK}]] * n


@pytest.mark.parametrize("backend", ["llguidance", "outlines", pytest.param("xgrammar", marks=pytest.mark.skipif(
    importlib.util.find_spec("xgrammar") is None,
    reason="xgrammar not installed: pip install --no-deps xgrammar apache-tvm-ffi (CI installs it)"))])
@pytest.mark.parametrize("fmt", ["hermes", "json", "pythonic", "mistral"])
def test_sampled_constrained_outputs_are_valid_and_honour_options(backend, fmt, tiny_model, tiny_tokenizer):
    for choice in ("auto", "required", "none", "add"):
        for parallel in (True, False):
            results = generate_batch(
                tiny_model, tiny_tokenizer, _requests(4), TOOLS, tool_choice=choice,
                parallel_tool_calls=parallel, format=fmt, backend=backend, temperature=1.0,
                seed=11, max_new_tokens=320, **SMALL,
            )
            for r in results:
                where = f"{choice}/parallel={parallel}: {r.text!r}"
                assert r.ok, where
                assert r.constrained and r.backend == backend and r.format == fmt
                if r.tool_calls:
                    assert r.finish_reason == "tool_calls", where  # a call never runs into the limit
                    assert r.forced_tokens > 0
                else:
                    assert r.finish_reason in ("stop", "length"), where
                if choice == "none":
                    assert not r.tool_calls, where
                if choice in ("required", "add"):
                    assert r.tool_calls, where
                if choice == "add":
                    assert {c.name for c in r.tool_calls} == {"add"}, where
                if not parallel:
                    assert len(r.tool_calls) <= 1, where
                for c in r.tool_calls:
                    if c.name == "add":
                        assert -1000 <= c.arguments["a"] <= 1000


def test_unconstrained_same_prompt_reports_error_kinds(tiny_model, tiny_tokenizer):
    free = generate_batch(tiny_model, tiny_tokenizer, _requests(4), TOOLS, tool_choice="required",
                          constrained=False, temperature=1.0, seed=0, max_new_tokens=40)
    tight = generate_batch(tiny_model, tiny_tokenizer, _requests(4), TOOLS, tool_choice="required",
                           temperature=1.0, seed=0, max_new_tokens=40)
    for f, c in zip(free, tight):
        assert f.prompt == c.prompt and f.prompt_tokens == c.prompt_tokens
        assert not f.constrained and f.backend is None and f.forced_tokens == 0
        assert not f.ok and f.finish_reason in ("stop", "length")
        assert set(f.error_kinds) <= KINDS and f.error_kinds
        assert isinstance(f.errors[0], ToolCallError) and f.errors[0].feedback


def test_message_is_an_openai_assistant_message(tiny_model, tiny_tokenizer):
    r = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="add", seed=1, parallel_tool_calls=False,
                 temperature=1.0, max_new_tokens=120, **SMALL)
    assert r.finish_reason == "tool_calls"
    msg = r.message
    assert msg["role"] == "assistant" and msg["content"] is None
    (call,) = msg["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "add"
    assert json.loads(call["function"]["arguments"]) == r.tool_calls[0].arguments
    assert r.usage["total_tokens"] == r.prompt_tokens + r.completion_tokens
    assert 0 < r.fast_forward_share < 1
    assert set(r.timings) >= {"prompt", "compile", "decode", "prefill", "mask", "parse", "total"}
    text = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="none", max_new_tokens=8)
    assert text.message == {"role": "assistant", "content": text.text}
    assert text.finish_reason in ("length", "stop") and text.tool_calls == []


def test_fast_forward_off_forces_nothing(tiny_model, tiny_tokenizer):
    on = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", max_new_tokens=200, **SMALL)
    off = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", max_new_tokens=200,
                   fast_forward=False, **SMALL)
    assert on.forced_tokens > 0 and off.forced_tokens == 0
    assert on.ok and off.ok
    assert on.timings["forward_passes"] < off.timings["forward_passes"]


def test_length_inside_a_call_is_reported(tiny_model, tiny_tokenizer):
    r = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", max_new_tokens=6)
    assert r.finish_reason == "length" and r.stop == "length"
    assert r.error_kinds and r.error_kinds[0] == "truncated" and r.tool_calls == []


def _decoded(tokenizer, model, text, finish, fmt="hermes", choice="required", **kw):
    """`_result` of a sequence whose output is `text` (real tokenizer, real parse path)."""
    from structcall.decoding.generate import _job, _result, _RepeatWatch
    from structcall.decoding.loop import DecodeStats, Sequence
    from structcall.decoding.vocab import stop_token_ids, tokenizer_info

    info = tokenizer_info(tokenizer, stop_token_ids(tokenizer, model))
    job = _job(tokenizer, ASK, TOOLS, format=fmt, tool_choice=choice, parallel_tool_calls=True,
               max_calls=None, strict=False, allow_think=False, limits=None, lenient=False)
    ids = tokenizer.encode(text, add_special_tokens=False)
    watch = None
    if finish == "repeat":
        watch = _RepeatWatch(fmt)
        for k in range(1, len(ids) + 1):  # fed as the decoding loop feeds it, token by token
            if watch.feed(info.decode_bytes(ids[:k]).decode("utf-8", "replace")):
                ids = ids[:k]
                break
    return _result(job, Sequence([1], token_ids=ids, finish=finish), info, backend="llguidance",
                   stats=DecodeStats(), compile_s=0.0, watch=watch)


@pytest.mark.parametrize("fmt", ["hermes", "json", "pythonic", "mistral", "smollm2"])
def test_a_cut_output_keeps_its_complete_calls(fmt, tiny_tokenizer, tiny_model):
    from structcall.render import render_calls

    two = render_calls([("get_weather", {"city": "Paris"}), ("add", {"a": 2, "b": 3})], fmt, tools=TOOLS)
    cut_at = two.rindex('"b"' if fmt != "pythonic" else "b=")
    r = _decoded(tiny_tokenizer, tiny_model, two[:cut_at], "length", fmt)
    assert r.finish_reason == "length" and r.stop == "length"
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert r.error_kinds == ["truncated"] and r.errors[0].pointer == "/1"
    # a cut that falls after a complete call and before the next opener loses nothing
    (one,) = [render_calls([("get_weather", {"city": "Paris"})], fmt, tools=TOOLS)]
    close = "" if load_format(fmt).bare_single else load_format(fmt).section_close.strip()
    head = one[: len(one) - len(close)]
    r = _decoded(tiny_tokenizer, tiny_model, head, "length", fmt)
    assert [c.name for c in r.tool_calls] == ["get_weather"] and r.ok and r.finish_reason == "length"


@pytest.mark.parametrize("fmt", ["hermes", "json", "pythonic", "mistral", "smollm2"])
def test_an_exact_repeat_ends_the_output(fmt, tiny_tokenizer, tiny_model):
    from structcall.render import render_calls

    a, b = ("get_weather", {"city": "Paris"}), ("add", {"a": 2, "b": 3})
    looping = render_calls([a, b, a, a], fmt, tools=TOOLS)
    r = _decoded(tiny_tokenizer, tiny_model, looping, "repeat", fmt)
    assert r.stop == "repeat" and r.ok and r.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in r.tool_calls] == [a, b]
    assert r.notes and "repeat of call 2" in r.notes[0]
    # the text ends before the repeat, complete in its format
    f = load_format(fmt)
    closer = f.section_close.strip() if f.section_open else ""
    assert looping.startswith(r.text[: len(r.text) - len(closer)]) and len(r.text) < len(looping)
    assert [(c.name, c.arguments) for c in parse_calls(r.text, TOOLS, format=fmt)] == [a, b]
    # the same call with other arguments is not a repeat
    w = __import__("structcall.decoding.generate", fromlist=["_RepeatWatch"])._RepeatWatch(fmt)
    assert not w.feed(render_calls([a, ("get_weather", {"city": "Rome"})], fmt, tools=TOOLS))


def test_stop_on_repeat_can_be_turned_off(tiny_model, tiny_tokenizer):
    on = generate_batch(tiny_model, tiny_tokenizer, _requests(6), TOOLS, tool_choice="required", temperature=1.0,
                        seed=3, max_new_tokens=160, **SMALL)
    off = generate_batch(tiny_model, tiny_tokenizer, _requests(6), TOOLS, tool_choice="required", temperature=1.0,
                         seed=3, max_new_tokens=160, stop_on_repeat=False, **SMALL)
    assert all(r.stop != "repeat" and not r.notes for r in off)
    for a, b in zip(on, off):
        if a.stop == "repeat":  # same samples up to the repeat, which `off` keeps
            assert b.text.startswith(a.text) and len(b.tool_calls) > len(a.tool_calls)
        else:
            assert a.text == b.text


def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather.

    Args:
        city: The city name.
        unit: celsius or fahrenheit.
    """
    return f"18 degrees {unit} and sunny in {city}"


@pytest.mark.parametrize("tok_fixture", ["tiny_tokenizer", "tiny_plain_tokenizer"])
def test_agent_loop_call_execute_answer(tok_fixture, tiny_model, request):
    tok = request.getfixturevalue(tok_fixture)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = generate(tiny_model, tok, messages, [get_weather], tool_choice="required",
                     parallel_tool_calls=False, max_new_tokens=120, **SMALL)
    (call,) = first.tool_calls
    output = call.execute()
    assert output.startswith("18 degrees")
    messages += [first.message, {"role": "tool", "tool_call_id": call.id, "content": output}]
    final = generate(tiny_model, tok, messages, [get_weather], tool_choice="none", max_new_tokens=12)
    assert final.ok and final.tool_calls == [] and final.finish_reason in ("stop", "length")
    assert "<tool_response>\n" + output + "\n</tool_response>" in final.prompt
    assert '"name": "get_weather"' in final.prompt  # the earlier call is in the history


def test_prompt_uses_the_template_only_when_it_renders_tools(tiny_tokenizer, tiny_plain_tokenizer):
    assert template_renders_tools(tiny_tokenizer)
    assert not template_renders_tools(tiny_plain_tokenizer)
    g = compile_tools(TOOLS, format="hermes")
    native = render_prompt(tiny_tokenizer, ASK, g)
    assert native == tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": ASK}], tools=[s.to_openai() for s in g.specs],
        tokenize=False, add_generation_prompt=True)
    own = render_prompt(tiny_plain_tokenizer, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": ASK}], g)
    assert own.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert tool_system_prompt(g) in own and own.endswith("<|im_start|>assistant\n")
    # a format the template does not speak: structcall's own prompt for that format
    py = render_prompt(tiny_tokenizer, ASK, compile_tools(TOOLS, format="pythonic", tool_choice="add", parallel_tool_calls=False))
    assert "Python list of calls" in py and "You must call the function add. Make exactly one function call." in py


def test_history_with_string_arguments_renders_in_both_paths(tiny_tokenizer, tiny_plain_tokenizer):
    history = [
        {"role": "user", "content": "add 2 and 3"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"b": 3, "a": 2}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
    ]
    for tok, fmt, call_text in (
        (tiny_tokenizer, "hermes", '{"name": "add", "arguments": {"b": 3, "a": 2}}'),
        (tiny_plain_tokenizer, "hermes", '{"name": "add", "arguments": {"a": 2, "b": 3}}'),
        (tiny_plain_tokenizer, "pythonic", "[add(a=2, b=3)]"),
    ):
        prompt = render_prompt(tok, history, compile_tools(TOOLS, format=fmt))
        assert call_text in prompt
        assert "<tool_response>\n5\n</tool_response>" in prompt


def test_retries_feed_back_and_raise_with_every_attempt(tiny_model, tiny_tokenizer):
    with pytest.raises(ToolCallRetryError) as info:
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", constrained=False,
                 retries=2, max_new_tokens=16, temperature=1.0, seed=3)
    attempts = info.value.attempts
    assert len(attempts) == 3 and all(not a.ok for a in attempts)
    assert attempts[0].errors[0].feedback in attempts[1].prompt
    assert attempts[1].errors[0].feedback in attempts[2].prompt
    assert info.value.last_error is attempts[-1].errors[0]
    assert "after 3 attempts" in str(info.value)
    ok = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", retries=2, max_new_tokens=200, **SMALL)
    assert ok.ok and ok.attempts == []


@pytest.mark.parametrize("fmt", ["hermes", "json", "pythonic", "mistral"])
def test_stream_yields_text_and_each_call_when_complete(fmt, tiny_model, tiny_tokenizer):
    seen_two = False
    for seed in range(60):
        if seen_two and seed >= 4:
            break
        events = list(stream_generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required",
                                      format=fmt, temperature=1.0, seed=seed, max_new_tokens=200, **SMALL))
        assert events[-1].type == "done"
        result = events[-1].result
        assert result.ok
        text = ""
        calls = []
        text_at_call = []
        for e in events[:-1]:
            if e.type == "text":
                text += e.text
            else:
                assert e.type == "tool_call"
                calls.append(e.tool_call)
                text_at_call.append(text)
        if result.stop == "repeat":  # deltas are the raw output; the result ends before the repeat
            assert text.startswith(result.text.rstrip("]")) and len(text) > len(result.text.rstrip("]"))
        else:
            assert text == result.text
        assert [(c.name, c.arguments) for c in calls] == [(c.name, c.arguments) for c in result.tool_calls]
        assert result.tool_calls == calls
        if len(calls) >= 2:
            seen_two = True
            # the first call was announced while the second was still being written
            assert len(text_at_call[0]) < len(text_at_call[1]) <= len(result.text)
            assert calls[1].name not in text_at_call[0][text_at_call[0].find(calls[0].name) + len(calls[0].name):]
    assert seen_two, "no sampled output had two calls; pick other seeds"


def test_stream_unconstrained_reports_errors_at_the_end(tiny_model, tiny_tokenizer):
    events = list(stream_generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required",
                                  constrained=False, max_new_tokens=20, temperature=1.0, seed=0))
    assert [e.type for e in events if e.type != "text"] == ["done"]
    assert not events[-1].result.ok
    assert "".join(e.text for e in events[:-1]) == events[-1].result.text


def test_batch_equals_one_by_one_and_per_request_tools(tiny_model64, tiny_tokenizer):
    tiny_model = tiny_model64  # float64: batched and solo greedy runs cannot differ by rounding
    reqs = [
        ASK,
        {"messages": [{"role": "user", "content": "add 1 and 1"}], "tool_choice": "add"},
        {"messages": "weather?", "tools": TOOLS[:1], "tool_choice": "required", "parallel_tool_calls": False},
    ]
    batch = generate_batch(tiny_model, tiny_tokenizer, reqs, TOOLS, max_new_tokens=100, batch_size=2, **SMALL)
    singles = [
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, max_new_tokens=100, **SMALL),
        generate(tiny_model, tiny_tokenizer, "add 1 and 1", TOOLS, tool_choice="add", max_new_tokens=100, **SMALL),
        generate(tiny_model, tiny_tokenizer, "weather?", TOOLS[:1], tool_choice="required",
                 parallel_tool_calls=False, max_new_tokens=100, **SMALL),
    ]
    assert [b.text for b in batch] == [s.text for s in singles]
    assert batch[1].tool_calls[0].name == "add"
    with pytest.raises(ValueError, match=r"requests\[0\].*'messages'"):
        generate_batch(tiny_model, tiny_tokenizer, [{"msgs": []}], TOOLS)
    with pytest.raises(ValueError, match=r"requests\[0\] has no tools"):
        generate_batch(tiny_model, tiny_tokenizer, [ASK])


def test_bad_arguments_get_clear_errors(tiny_model, tiny_tokenizer, tiny_plain_tokenizer):
    with pytest.raises(BackendError, match="unknown backend 'llg'"):
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, backend="llg")
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, temperature=-1)
    with pytest.raises(ValueError, match="retries"):
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, retries=-1)
    with pytest.raises(ValueError, match="messages is empty"):
        generate(tiny_model, tiny_tokenizer, [], TOOLS)
    with pytest.raises(ValueError, match="tool_choice names the function 'ad'"):
        generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="ad")
    saved = tiny_plain_tokenizer.chat_template
    try:
        tiny_plain_tokenizer.chat_template = None
        with pytest.raises(ValueError, match="no chat_template"):
            generate(tiny_model, tiny_plain_tokenizer, ASK, TOOLS)
    finally:
        tiny_plain_tokenizer.chat_template = saved


def test_think_block_before_the_call(tiny_model, tiny_tokenizer):
    r = generate(tiny_model, tiny_tokenizer, ASK, TOOLS, tool_choice="required", allow_think=True,
                 temperature=1.0, seed=2, max_new_tokens=200, **SMALL)
    assert r.ok and r.tool_calls


def test_output_cut_inside_a_character_is_not_an_encoding_error(tiny_tokenizer, tiny_model):
    from structcall.decoding.generate import _job, _result
    from structcall.decoding.loop import DecodeStats, Sequence
    from structcall.decoding.vocab import stop_token_ids, tokenizer_info

    info = tokenizer_info(tiny_tokenizer, stop_token_ids(tiny_tokenizer, tiny_model))
    byte_token = {b: i for i, b in enumerate(info.token_bytes)}
    job = _job(tiny_tokenizer, ASK, TOOLS, format="hermes", tool_choice="auto", parallel_tool_calls=True,
               max_calls=None, strict=False, allow_think=False, limits=None, lenient=False)
    ids = tiny_tokenizer.encode("caf", add_special_tokens=False) + [byte_token["é".encode()[:1]]]
    cut = _result(job, Sequence([1], token_ids=ids, finish="length"), info, backend="llguidance",
                  stats=DecodeStats(), compile_s=0.0)
    assert cut.text == "caf" and cut.ok and cut.finish_reason == "length"
    ended = _result(job, Sequence([1], token_ids=ids, finish="eos"), info, backend=None,
                    stats=DecodeStats(), compile_s=0.0)
    assert ended.error_kinds == ["parse"] and "not valid UTF-8" in ended.errors[0].message


def test_plain_chat_without_tools(tiny_model, tiny_plain_tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    r = generate(tiny_model, tiny_plain_tokenizer, messages, [], tool_choice="none", max_new_tokens=8)
    assert r.prompt == tiny_plain_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert r.ok and r.tool_calls == [] and "<tool_call>" not in r.text
