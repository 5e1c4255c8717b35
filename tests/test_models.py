"""structcall.models: tokenizer training, tiny models, loading (folders, GGUF, smollm2)."""

from __future__ import annotations

import json

import pytest
import torch

from structcall.decoding import template_renders_tools
from structcall.decoding.vocab import tokenizer_info
from structcall.models import (
    CHATML_TEMPLATE,
    build_tiny_model,
    load_model,
    smollm2_gguf_path,
    train_tokenizer,
)

TEXTS = [
    "plain ascii",
    "Zürich – 東京 🎉 naïve café",
    '<tool_call>\n{"name": "f", "arguments": {"x": "\\u00e9\\n"}}\n</tool_call>',
    "\x00\x01 tabs\tand\r\nnewlines",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd",
]


def test_tokenizer_is_byte_level_and_round_trips_anything(tiny_tokenizer):
    info = tokenizer_info(tiny_tokenizer, (tiny_tokenizer.eos_token_id,))
    for text in TEXTS:
        ids = tiny_tokenizer.encode(text, add_special_tokens=False)
        assert tiny_tokenizer.decode(ids) == text
        assert info.decode_bytes(ids) == text.encode("utf-8")  # token bytes are exact
    assert tiny_tokenizer.eos_token == "<|im_end|>" and tiny_tokenizer.pad_token == "<|endoftext|>"
    assert set(tiny_tokenizer.all_special_tokens) == {"<|im_end|>", "<|endoftext|>", "<|im_start|>"}
    # a special token's text in user content is not the special token
    assert tiny_tokenizer.convert_tokens_to_ids("<|im_start|>") in info.special_ids


def test_train_tokenizer_options():
    tok = train_tokenizer(["aaaa bbbb aaaa bbbb"] * 20, vocab_size=270, chat_template=None)
    assert len(tok) <= 270 and tok.chat_template is None
    assert tok.decode(tok.encode("aaaa bbbb ü", add_special_tokens=False)) == "aaaa bbbb ü"
    with pytest.raises(ValueError, match="vocab_size=100 is too small"):
        train_tokenizer(vocab_size=100)


def test_chat_template_renders_tools_calls_and_results(tiny_tokenizer, tiny_plain_tokenizer):
    tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}}]
    msgs = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
        {"role": "tool", "content": "one"},
        {"role": "tool", "content": "two"},
    ]
    text = tiny_tokenizer.apply_chat_template(msgs, tools=tools, tokenize=False, add_generation_prompt=True)
    assert "<tools>\n" + '{"type": "function", "function": {"name": "f"' in text
    assert '<|im_start|>assistant\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call><|im_end|>' in text
    assert "<|im_start|>user\n<tool_response>\none\n</tool_response>\n<tool_response>\ntwo\n</tool_response><|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    # assistant turns are marked for TRL's assistant_only_loss
    out = tiny_tokenizer.apply_chat_template(msgs[:2], tools=tools, return_dict=True, return_assistant_tokens_mask=True)
    assert 0 < sum(out["assistant_masks"]) < len(out["input_ids"])
    assert template_renders_tools(tiny_tokenizer) and not template_renders_tools(tiny_plain_tokenizer)
    assert tiny_plain_tokenizer.chat_template == CHATML_TEMPLATE
    # the call's name is written as JSON, so a name that needs escaping stays valid JSON
    odd = [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": 'say "hi"', "arguments": {}}}]}]
    text = tiny_tokenizer.apply_chat_template(odd, tools=tools, tokenize=False)
    block = text.split("<|im_start|>assistant\n<tool_call>\n", 1)[1].split("\n</tool_call>", 1)[0]
    assert json.loads(block) == {"name": 'say "hi"', "arguments": {}}


def test_tiny_model_is_deterministic_and_sized_to_the_tokenizer(tiny_tokenizer):
    a = build_tiny_model(tiny_tokenizer, hidden_size=32, num_hidden_layers=1, intermediate_size=64, seed=5)
    b = build_tiny_model(tiny_tokenizer, hidden_size=32, num_hidden_layers=1, intermediate_size=64, seed=5)
    c = build_tiny_model(tiny_tokenizer, hidden_size=32, num_hidden_layers=1, intermediate_size=64, seed=6)
    assert a.config.vocab_size == len(tiny_tokenizer)
    assert a.generation_config.eos_token_id == tiny_tokenizer.eos_token_id
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()))
    q2 = build_tiny_model(tiny_tokenizer, arch="qwen2", hidden_size=32, num_hidden_layers=1, intermediate_size=64)
    assert type(q2).__name__ == "Qwen2ForCausalLM"
    ids = torch.tensor([tiny_tokenizer.encode("hello", add_special_tokens=False)])
    assert q2(input_ids=ids).logits.shape == (1, ids.shape[1], len(tiny_tokenizer))
    with pytest.raises(ValueError, match="unknown arch 'gpt9'"):
        build_tiny_model(tiny_tokenizer, arch="gpt9")
    with pytest.raises(ValueError, match="divisible"):
        build_tiny_model(tiny_tokenizer, hidden_size=30, num_attention_heads=4)


def test_load_model_round_trips_a_saved_folder(tiny_tokenizer, tmp_path):
    model = build_tiny_model(tiny_tokenizer, hidden_size=32, num_hidden_layers=1, intermediate_size=64, seed=1)
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    loaded, tok = load_model(tmp_path)
    assert tok.chat_template == tiny_tokenizer.chat_template
    assert not loaded.training and loaded.dtype == torch.float32
    for p, q in zip(model.parameters(), loaded.parameters()):
        assert torch.equal(p, q)


def test_load_model_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        load_model(tmp_path / "missing.gguf")
    stray = tmp_path / "weights.bin"
    stray.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a .gguf file"):
        load_model(stray)


def test_smollm2_gguf_is_found_without_importing_the_package():
    path = smollm2_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
