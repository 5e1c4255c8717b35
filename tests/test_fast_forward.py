"""Fast-forward never changes what is decoded: drafted forced text is tokenized together with
what the model already wrote (token healing), and the model confirms every drafted token from
the same forward pass, so the output equals step-by-step decoding (``fast_forward="off"``) for
every backend, greedy and sampled, batched and streaming.

The tiny experiment students lost accuracy with the old fast-forward on exactly this: their
task tokenizer merges across the grammar's boundaries (one token spells ``path": "/home/...``,
key and value together), the old decoder forced ``path`` as a token of its own, and the
students, never having seen that split, wrote garbage paths. Those cases are below.
"""

from __future__ import annotations

import pytest

from structcall import compile_tools, parse_calls
from structcall.decoding import generate, generate_batch, get_backend, stream_generate
from structcall.decoding.loop import Sequence, decode, draft_tokens, iter_decode
from structcall.decoding.prompt import render_prompt
from structcall.decoding.vocab import stop_token_ids, tokenizer_info
from structcall.models import build_tiny_model
from structcall.schema import Limits
from tools_fixtures import function_tool, weather_tool

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BACKENDS = ["llguidance", "outlines", "xgrammar"]
TOOLS = [
    weather_tool("Weather in a city.", required=("city", "unit")),
    function_tool("count_words", {"path": {"type": "string"}}, ["path"], description="Count the words in a file."),
    function_tool("list_files", {"directory": {"type": "string"}}, ["directory"], description="List a directory."),
]
OPTS = {"max_calls": 2, "limits": Limits(max_string_length=24)}
ASK = [
    [{"role": "user", "content": "How many words are in /home/projects/plan.md?"}],
    [{"role": "user", "content": "Weather in Paris in celsius, and list /home/photos please."}],
    [{"role": "user", "content": "hi"}],
]
PATHS = ["/home/projects/plan.md", "/home/photos", "/home/docs/budget.csv", "/home/music"]


@pytest.fixture(scope="module")
def merge_tokenizer():
    """The experiment's task tokenizer (byte-level BPE whose merges cross spaces and
    punctuation), trained on call texts like the students': it has tokens that run from a
    key through ``": "`` into the value."""
    from structcall.experiments.models import train_task_tokenizer

    texts = []
    for k in range(60):
        path = PATHS[k % len(PATHS)]
        texts += [
            f'<tool_call>\n{{"name": "count_words", "arguments": {{"path": "{path}"}}}}\n</tool_call>',
            f'<tool_call>\n{{"name": "list_files", "arguments": {{"directory": "{path}"}}}}\n</tool_call>',
            f'<tool_call>\n{{"name": "get_weather", "arguments": {{"city": "Paris", "unit": "celsius"}}}}\n</tool_call>',
            f"How many words are in {path}? Weather in Lima, please. Today is 2025-0{k % 9 + 1}-1{k % 10}.",
        ]
    return train_task_tokenizer(texts, vocab_size=600)


@pytest.fixture(scope="module")
def merge_model(merge_tokenizer):
    return build_tiny_model(merge_tokenizer, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, intermediate_size=128, seed=1).double()


def _merged_key_value(info):
    """Tokens that spell a key, ``": "`` and the start of a path together."""
    return [t for t, b in enumerate(info.token_bytes) if b'": "/' in b and not b.startswith(b'": "')]


def _crossing(info):
    """Tokens that run from a value into the forced text after it, or from the forced
    ``": "`` into a value."""
    return [t for t, b in enumerate(info.token_bytes)
            if (b'"}}' in b and not b.startswith(b'"')) or (b'": "' in b and not b.endswith(b'": "'))]


def _run(model, tokenizer, grammars, prompts, *, backend, mode, temperature=0.0, seeds=None, max_new_tokens=120):
    stop = stop_token_ids(tokenizer, model)
    info = tokenizer_info(tokenizer, stop)
    be = get_backend(backend, tokenizer, stop_ids=stop)
    seqs = []
    for k, (g, p) in enumerate(zip(grammars, prompts)):
        ids = tokenizer(render_prompt(tokenizer, p, g), add_special_tokens=False)["input_ids"]
        seqs.append(Sequence(ids, matcher=be.matchers(g, 1)[0], seed=None if seeds is None else seeds[k]))
    stats = decode(model, tokenizer, info, seqs, max_new_tokens=max_new_tokens, temperature=temperature,
                   fast_forward=mode)
    for g, s in zip(grammars, seqs):
        be.release(g, [s.matcher])
    return info, seqs, stats


def _text(info, seq):
    return info.decode_bytes(seq.token_ids).decode("utf-8", "replace")


@pytest.mark.parametrize("backend", BACKENDS)
def test_greedy_batched_output_equals_step_by_step(backend, tiny_tokenizer, tiny_model64):
    """Three formats and prompt lengths in one batch: every row's text is the text decoded
    one token per forward pass."""
    grammars = [compile_tools(TOOLS, format=f, tool_choice=c, **OPTS)
                for f, c in (("hermes", "required"), ("json", "get_weather"), ("pythonic", "get_weather"))]  # pythonic named: a long forced run (the JSON ones now stop at each separator) the random model breaks
    info, fast, _ = _run(tiny_model64, tiny_tokenizer, grammars, ASK, backend=backend, mode="chunk")
    _, slow, _ = _run(tiny_model64, tiny_tokenizer, grammars, ASK, backend=backend, mode="off")
    assert [_text(info, s) for s in fast] == [_text(info, s) for s in slow]
    assert [s.finish for s in fast] == [s.finish for s in slow]
    assert sum(s.forced for s in fast) > 0 and sum(s.forced for s in slow) == 0
    # drafts the random model disagrees with were replaced by its own tokens
    assert sum(s.rejected for s in fast) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_output_equals_step_by_step(backend, tiny_tokenizer, tiny_model64):
    """Seeded sampling: the model's check at each drafted position draws from the same masked
    distribution with the same generator, so the sampled text is the same too."""
    grammars = [compile_tools(TOOLS, format="hermes", tool_choice="auto", **OPTS)] * 3
    for seeds in ([0, 1, 2], [3, 4, 5]):
        info, fast, _ = _run(tiny_model64, tiny_tokenizer, grammars, ASK, backend=backend, mode="chunk",
                             temperature=0.9, seeds=seeds)
        _, slow, _ = _run(tiny_model64, tiny_tokenizer, grammars, ASK, backend=backend, mode="off",
                          temperature=0.9, seeds=seeds)
        assert [_text(info, s) for s in fast] == [_text(info, s) for s in slow]


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunked_and_one_pass_per_token_feeding_agree_token_for_token(backend, tiny_tokenizer, tiny_model64):
    grammars = [compile_tools(TOOLS, format="json", tool_choice="required", **OPTS)] * 2
    _, fast, fast_stats = _run(tiny_model64, tiny_tokenizer, grammars, ASK[:2], backend=backend, mode="chunk")
    _, step, step_stats = _run(tiny_model64, tiny_tokenizer, grammars, ASK[:2], backend=backend, mode="stepwise")
    assert [s.token_ids for s in fast] == [s.token_ids for s in step]
    assert [s.forced for s in fast] == [s.forced for s in step]
    assert fast_stats.forward_passes < step_stats.forward_passes


def test_draft_tokenizes_forced_text_with_the_tail_of_the_output(merge_tokenizer):
    tok = merge_tokenizer
    info = tokenizer_info(tok, stop_token_ids(tok))
    assert _merged_key_value(info), "the task tokenizer should merge a key, '\": \"' and a path into one token"
    # the model wrote '...count_word'; the grammar forces the rest of the envelope up to the value
    head_text = '<tool_call>\n{"name": "count_word'
    forced = 's", "arguments": {"path": "'
    head = tok.encode(head_text, add_special_tokens=False)
    whole = tok.encode(head_text + forced, add_special_tokens=False)
    assert whole[: len(head)] == head
    draft = draft_tokens(tok, info, head, forced.encode())
    assert draft == whole[len(head):]  # as the tokenizer writes the whole output
    assert info.decode_bytes(draft) == forced.encode()
    # when the tokenizer would merge across the end of what the model wrote, nothing is drafted:
    # the model picks the token that spans the boundary
    tail = tok.encode('<tool_call>\n{"name": "count_words", "arguments": {', add_special_tokens=False)
    assert draft_tokens(tok, info, tail, b'"path": "') == []
    # (tokenized on its own, as the old decoder did, the key would be forced as a token 'path')
    assert "path" in [tok.decode([t]) for t in tok.encode('"path": "', add_special_tokens=False)]
    # forced text that is empty or not valid UTF-8 on its own drafts nothing
    assert draft_tokens(tok, info, head, b"") == []
    assert draft_tokens(tok, info, head, "é".encode()[:1]) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_students_merged_key_value_tokens_survive_fast_forward(backend, merge_tokenizer, merge_model):
    """The students' case: a model that writes tokens crossing the forced text's boundaries
    (``/home/photos"}}``, ``": "celsius"}}``: a trained student does; here their logits are
    raised) gets to write them with fast-forward on, and the output equals step-by-step
    decoding."""
    tok, model = merge_tokenizer, merge_model
    info = tokenizer_info(tok, stop_token_ids(tok, model))
    crossing = _crossing(info)

    def prefer_canonical(module, inputs, output):
        output[..., crossing] += 25.0
        return output

    hook = model.lm_head.register_forward_hook(prefer_canonical)
    try:
        grammars = [compile_tools(TOOLS[1:], format="hermes", tool_choice=c, **OPTS)
                    for c in ("count_words", "list_files", "required")]
        _, fast, fast_stats = _run(model, tok, grammars, ASK, backend=backend, mode="chunk", max_new_tokens=60)
        _, slow, slow_stats = _run(model, tok, grammars, ASK, backend=backend, mode="off", max_new_tokens=60)
    finally:
        hook.remove()
    assert [_text(info, s) for s in fast] == [_text(info, s) for s in slow]
    assert fast_stats.forward_passes < slow_stats.forward_passes
    for s in fast[:2]:
        assert set(s.token_ids) & set(crossing)  # the model's own boundary-crossing token


@pytest.mark.parametrize("backend", BACKENDS)
def test_generate_batch_and_stream_equal_with_and_without_fast_forward(backend, tiny_tokenizer, tiny_model64):
    kw = dict(tool_choice="auto", backend=backend, max_new_tokens=100, **OPTS)
    for temperature, seed in ((0.0, None), (1.0, 5)):
        on = generate_batch(tiny_model64, tiny_tokenizer, ASK, TOOLS, temperature=temperature, seed=seed,
                            fast_forward=True, **kw)
        off = generate_batch(tiny_model64, tiny_tokenizer, ASK, TOOLS, temperature=temperature, seed=seed,
                             fast_forward=False, **kw)
        assert [r.text for r in on] == [r.text for r in off]
        assert [r.finish_reason for r in on] == [r.finish_reason for r in off]
        one = generate(tiny_model64, tiny_tokenizer, ASK[1], TOOLS, temperature=temperature,
                       seed=None if seed is None else seed + 1, **kw)  # request i samples with seed + i
        assert one.text == off[1].text
    streams = {}
    for ff in (True, False):
        events = list(stream_generate(tiny_model64, tiny_tokenizer, ASK[1], TOOLS, fast_forward=ff, temperature=1.0,
                                      seed=2, **kw))
        streams[ff] = events
        text = "".join(e.text for e in events if e.type == "text")
        assert text == events[-1].result.text  # deltas only ever extend the text (drafts never shown)
    assert "".join(e.text for e in streams[True] if e.type == "text") == \
        "".join(e.text for e in streams[False] if e.type == "text")
    assert [(e.tool_call.name, e.tool_call.arguments) for e in streams[True] if e.type == "tool_call"] == \
        [(e.tool_call.name, e.tool_call.arguments) for e in streams[False] if e.type == "tool_call"]


def test_drafts_are_never_yielded_before_the_model_confirms_them(tiny_tokenizer, tiny_model):
    g = compile_tools(TOOLS, format="hermes", tool_choice="get_weather", **OPTS)
    stop = stop_token_ids(tiny_tokenizer, tiny_model)
    info = tokenizer_info(tiny_tokenizer, stop)
    be = get_backend("llguidance", tiny_tokenizer, stop_ids=stop)
    ids = tiny_tokenizer(render_prompt(tiny_tokenizer, ASK[1], g), add_special_tokens=False)["input_ids"]
    seq = Sequence(ids, matcher=be.matchers(g, 1)[0])
    shown: list[int] = []
    for step in iter_decode(tiny_model, tiny_tokenizer, info, [seq], max_new_tokens=100):
        for _, new in step:
            shown += new
            assert seq.token_ids[: len(shown)] == shown
    assert shown == seq.token_ids
    assert parse_calls(_text(info, seq), g)
    # the envelope was drafted as the tokenizer writes it after the prompt
    envelope = b'<tool_call>\n{"name": "get_weather", "arguments": {"city": "'
    drafted = draft_tokens(tiny_tokenizer, info, ids, envelope)
    assert info.decode_bytes(drafted) == envelope
    assert seq.token_ids[:1] == drafted[:1]
