"""Backends without a model: each backend's matcher, fed the canonical tokens of rendered
outputs, must accept every valid output and reject the invalid ones, for every format x
tool_choice x parallel setting."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from structcall import compile_tools
from structcall.decoding import BackendError, get_backend
from structcall.decoding.vocab import tokenizer_info
from structcall.render import render_calls
from structcall.schema import Limits
from tools_fixtures import function_tool, weather_tool

HAS_XGRAMMAR = importlib.util.find_spec("xgrammar") is not None
NO_XGRAMMAR = "xgrammar not installed: pip install --no-deps xgrammar apache-tvm-ffi (CI installs it)"
BACKEND_NAMES = ["llguidance", "outlines",
                 pytest.param("xgrammar", marks=pytest.mark.skipif(not HAS_XGRAMMAR, reason=NO_XGRAMMAR))]
FORMATS = ["hermes", "json", "pythonic", "mistral"]
CHOICES = ["auto", "required", "none", "get_time"]

TOOLS = [
    weather_tool("Current weather in a city.", days=True),
    function_tool("get_time", {"tz": {"type": "string", "maxLength": 40}}, ["tz"], description="Local time in a timezone."),
]

WEATHER = ("get_weather", {"city": "Paris", "unit": "celsius", "days": 3})
WEATHER_UNICODE = ("get_weather", {"city": "Zürich – 東京 🎉"})
TIME = ("get_time", {"tz": "Europe/Paris"})

#: small caps keep outlines-core's index (DFA states x vocabulary) quick to build
SMALL = {"max_calls": 2, "limits": Limits(max_string_length=24)}


def _outputs(fmt: str, choice: str, parallel: bool) -> tuple[list[str], list[str]]:
    """(valid, invalid) complete outputs for these options."""
    one = render_calls([WEATHER], fmt, tools=TOOLS)
    uni = render_calls([WEATHER_UNICODE], fmt, tools=TOOLS)
    two = render_calls([WEATHER, TIME], fmt, tools=TOOLS)
    timed = render_calls([TIME], fmt, tools=TOOLS)
    text = "It is sunny in Paris today."
    valid: list[str] = []
    invalid: list[str] = []
    if choice in ("auto", "required"):
        valid += [one, uni, timed]
        (valid if parallel else invalid).append(two)
        if fmt == "hermes" and choice == "auto":
            valid.append(render_calls([WEATHER], fmt, tools=TOOLS, content="Let me check.\n"))
    if choice == "get_time":
        valid.append(timed)
        invalid += [one, two]
    if choice in ("auto", "none"):
        valid.append(text)
    else:
        invalid.append(text)
    if choice == "none":
        invalid += [one, two]
    invalid.append(one.replace("Paris", "Paris\x01"))  # a raw control character in a string
    invalid.append(one.replace('"celsius"', '"kelvin"') if fmt != "pythonic" else one.replace("'celsius'", "'kelvin'").replace('"celsius"', '"kelvin"'))
    return valid, invalid


@pytest.fixture(scope="module")
def info(tiny_tokenizer):
    return tokenizer_info(tiny_tokenizer, (tiny_tokenizer.eos_token_id,))


def _backend(name, tokenizer):
    return get_backend(name, tokenizer, stop_ids=(tokenizer.eos_token_id,))


def _runs(matcher, tokenizer, text: str) -> bool:
    ids = tokenizer.encode(text, add_special_tokens=False)
    return matcher.consume(ids) == len(ids) and matcher.is_accepting()


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_backend_accepts_valid_outputs(backend, fmt, tiny_tokenizer):
    be = _backend(backend, tiny_tokenizer)
    failures = []
    for choice in CHOICES:
        for parallel in (True, False):
            g = compile_tools(TOOLS, format=fmt, tool_choice=choice, parallel_tool_calls=parallel, **SMALL)
            valid, invalid = _outputs(fmt, choice, parallel)
            for text in valid:
                assert g.accepts(text), f"core grammar rejects its own valid output {text!r}"
                m = be.matchers(g, 1)[0]
                if not _runs(m, tiny_tokenizer, text):
                    failures.append(f"{choice}/parallel={parallel}: rejected valid {text!r}")
                be.release(g, [m])
            for text in invalid:
                m = be.matchers(g, 1)[0]
                if _runs(m, tiny_tokenizer, text):
                    failures.append(f"{choice}/parallel={parallel}: accepted invalid {text!r}")
                be.release(g, [m])
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_forced_bytes_cover_the_envelope(backend, tiny_tokenizer):
    be = _backend(backend, tiny_tokenizer)
    g = compile_tools(TOOLS, format="hermes", tool_choice="get_time", parallel_tool_calls=False, **SMALL)
    m = be.matchers(g, 1)[0]
    # the opener, then the model picks the envelope's (bounded) whitespace, then "{" forces the
    # envelope up to each separator, where the model picks JSON's spaced or compact style
    assert m.forced_bytes() == b"<tool_call>"
    opener = tiny_tokenizer.encode("<tool_call>\n{", add_special_tokens=False)
    assert m.consume(opener) == len(opener)
    space = tiny_tokenizer.encode(" ", add_special_tokens=False)
    pieces = []
    for _ in range(4):
        pieces.append(m.forced_bytes())
        ids = tiny_tokenizer.encode(pieces[-1].decode(), add_special_tokens=False) + space
        assert m.consume(ids) == len(ids)
    pieces.append(m.forced_bytes())
    assert pieces == [b'"name":', b'"get_time",', b'"arguments":', b'{"tz":', b'"']
    g_req = compile_tools(TOOLS, format="hermes", tool_choice="required", **SMALL)
    m2 = be.matchers(g_req, 1)[0]
    assert m2.forced_bytes() == b"<tool_call>"
    assert m2.consume(opener) == len(opener) and m2.forced_bytes() == b'"name":'
    ids = tiny_tokenizer.encode('"name":', add_special_tokens=False) + space
    assert m2.consume(ids) == len(ids) and m2.forced_bytes() == b'"get_'
    g_auto = compile_tools(TOOLS, format="hermes", tool_choice="auto", **SMALL)
    m3 = be.matchers(g_auto, 1)[0]
    assert m3.forced_bytes() == b""  # text or a call: nothing forced
    for g_, m_ in ((g, m), (g_req, m2), (g_auto, m3)):
        be.release(g_, [m_])


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_terminated_after_single_call_and_rollback(backend, tiny_tokenizer):
    be = _backend(backend, tiny_tokenizer)
    g = compile_tools(TOOLS, format="json", tool_choice="required", parallel_tool_calls=False, **SMALL)
    m = be.matchers(g, 1)[0]
    ids = tiny_tokenizer.encode(render_calls([WEATHER], "json", tools=TOOLS), add_special_tokens=False)
    assert m.consume(ids[:-1]) == len(ids) - 1
    assert not m.is_accepting() and not m.is_terminated()
    assert m.consume(ids[-1:]) == 1
    # complete: the end may come now, or after a short bounded run of whitespace
    assert m.is_accepting() and not m.is_terminated()
    m.rollback(3)
    assert not m.is_accepting()
    assert m.consume(ids[-3:]) == 3 and m.is_accepting()
    tail = tiny_tokenizer.encode("\n\n\n\n", add_special_tokens=False)
    assert m.consume(tail) == len(tail) and m.is_terminated()
    m.reset()
    assert m.consume(ids) == len(ids)
    be.release(g, [m])


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_masks_never_allow_special_tokens_inside_strings(backend, tiny_tokenizer, info):
    """The decoder ANDs every mask with TokenizerInfo.text_allowed; check what that removes
    and that inside a free string no special token survives."""
    be = _backend(backend, tiny_tokenizer)
    g = compile_tools(TOOLS, format="hermes", tool_choice="get_weather", **SMALL)
    m = be.matchers(g, 1)[0]
    m.consume(tiny_tokenizer.encode('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', add_special_tokens=False))
    row = np.zeros((info.vocab_size + 31) // 32, dtype=np.int32)
    m.fill_bitmask(row)
    allowed = np.unpackbits(row.view(np.uint8), bitorder="little")[: info.vocab_size].astype(bool)
    assert allowed.sum() > 100  # a free string allows most of the vocabulary
    final = allowed & info.text_allowed
    for special in info.special_ids:
        assert not final[special], tiny_tokenizer.convert_ids_to_tokens(special)
    be.release(g, [m])


def test_compile_once_and_pool_matchers(tiny_tokenizer):
    be = _backend("llguidance", tiny_tokenizer)
    g = compile_tools(TOOLS, format="hermes", tool_choice="required")
    assert be.compile(g) is be.compile(g)
    first = be.matchers(g, 2)
    first[0].consume(tiny_tokenizer.encode("<tool_call>", add_special_tokens=False))
    be.release(g, first)
    again = be.matchers(g, 2)
    assert {id(m) for m in again} == {id(m) for m in first}  # reused ...
    assert all(m.forced_bytes().startswith(b"<tool_call>") for m in again)  # ... and reset
    assert _backend("llguidance", tiny_tokenizer) is be  # one backend per tokenizer


def test_unknown_backend_names_the_known_ones(tiny_tokenizer):
    with pytest.raises(BackendError, match=r"unknown backend 'outline'.*Did you mean 'outlines'"):
        _backend("outline", tiny_tokenizer)


def test_missing_backend_library_names_the_extra(tiny_tokenizer, monkeypatch):
    """A backend whose library is not importable (simulated by blocking the import)."""
    from structcall.decoding import backends

    monkeypatch.setattr(backends, "_CACHE", type(backends._CACHE)())
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # `import xgrammar` now raises ImportError
    monkeypatch.delitem(sys.modules, "structcall.decoding.xgrammar_backend", raising=False)
    with pytest.raises(BackendError, match=r"pip install 'structcall\[xgrammar\]'"):
        _backend("xgrammar", tiny_tokenizer)


RECURSIVE = [{
    "type": "function",
    "function": {
        "name": "make_tree",
        "parameters": {
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/node"}},
            "required": ["root"],
            "$defs": {"node": {
                "type": "object",
                "properties": {"label": {"type": "string", "maxLength": 8},
                               "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 3}},
                "required": ["label"],
            }},
        },
    },
}]


def test_outlines_refuses_non_regular_grammar_llguidance_takes_it(tiny_tokenizer):
    g = compile_tools(RECURSIVE, format="json", tool_choice="required")
    with pytest.raises(BackendError, match=r"outlines.*not regular.*llguidance"):
        _backend("outlines", tiny_tokenizer).compile(g)
    deep = render_calls([("make_tree", {"root": {"label": "a", "children": [{"label": "b", "children": [{"label": "c"}]}]}})], "json", tools=RECURSIVE)
    m = _backend("llguidance", tiny_tokenizer).matchers(g, 1)[0]
    assert _runs(m, tiny_tokenizer, deep)


@pytest.mark.skipif(not HAS_XGRAMMAR, reason=NO_XGRAMMAR)
def test_xgrammar_takes_recursive_grammar(tiny_tokenizer):
    g = compile_tools(RECURSIVE, format="json", tool_choice="required")
    deep = render_calls([("make_tree", {"root": {"label": "a", "children": [{"label": "b"}]}})], "json", tools=RECURSIVE)
    m = _backend("xgrammar", tiny_tokenizer).matchers(g, 1)[0]
    assert _runs(m, tiny_tokenizer, deep)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_free_text_stays_valid_utf8(backend, tiny_tokenizer, info):
    """Byte-level tokens can spell invalid UTF-8; no backend may let them through. (xgrammar
    0.2.8 on its own accepts UTF-16 surrogates, ED A0..BF, in free text.)"""
    be = _backend(backend, tiny_tokenizer)
    g = compile_tools(TOOLS, format="hermes", tool_choice="none", **SMALL)
    byte = {piece: t for t, piece in enumerate(info.token_bytes) if len(piece) == 1}
    m = be.matchers(g, 1)[0]
    for bad in (b"\xed\xa0\x80", b"\xc0\x80", b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\xff", b"a\x80"):
        m.reset()
        ids = [byte[bytes([b])] for b in bad]
        assert m.consume(ids) < len(ids), bad
    m.reset()
    assert m.consume([byte[b"\xed"]]) == 1  # a lead byte is fine ...
    row = np.zeros((info.vocab_size + 31) // 32, dtype=np.int32)
    m.fill_bitmask(row)
    allowed = np.unpackbits(row.view(np.uint8), bitorder="little")[: info.vocab_size].astype(bool)
    assert allowed[byte[b"\x9f"]] and not allowed[byte[b"\xa0"]] and not allowed[byte[b"\xbf"]]  # ... not a surrogate
    ok = "한".encode()  # U+D55C: ED 95 9C
    m.reset()
    assert m.consume([byte[bytes([b])] for b in ok]) == 3 and m.is_accepting()
    be.release(g, [m])
