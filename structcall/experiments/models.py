"""Students and teachers: a tokenizer trained on the task corpus, tiny Llamas built from a
config, and any Hugging Face model (id, folder, GGUF or ``"smollm2"``) with the experiment's
chat template installed.

The tiny tokenizer is a byte-level BPE whose pre-tokenizer isolates newlines and single digits
and lets merges cross spaces and punctuation (``split="merge"``, the default): the repetitive
tool signatures and call envelopes cost less than half the tokens of a word-level split
(``split="words"``, which makes a value the same token in request and call; measured here it
did not make the tiny models copy values any better at equal compute). Newlines stay their own
tokens, so no token crosses the end of the generation prompt (``<|im_start|>assistant\\n``):
the prompt TRL trains on is a token prefix of the prompt+completion, as it is at inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .chat import install_chat_template

__all__ = ["train_task_tokenizer", "build_tiny", "load_causal_lm", "save_model", "count_parameters", "device_name"]

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


# pre-tokenizer patterns: "words" isolates every word (letters and underscores), digit and
# newline, so a value is the same token in the request and in the call (copyable); "merge"
# isolates only newlines and digits and lets merges cross spaces (about half the tokens).
SPLITS = {"words": r"[A-Za-z_]+|[0-9]|\n", "merge": r"[0-9]|\n"}


def train_task_tokenizer(texts: Iterable[str], *, vocab_size: int = 2048, min_frequency: int = 2,
                         max_token_length: int = 32, split: str = "merge") -> Any:
    """Train the tiny tokenizer on ``texts`` (rendered task conversations); returns a fast tokenizer
    with the experiment's chat template, EOS ``<|im_end|>`` and pad ``<|endoftext|>``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"tokenizer.vocab_size={vocab_size} is too small: a byte-level BPE needs at least "
                         f"{256 + len(SPECIAL_TOKENS)}")
    if split not in SPLITS:
        raise ValueError(f"tokenizer split must be one of {sorted(SPLITS)}, got {split!r}")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLITS[split]), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  max_token_length=max_token_length)
    backend.train_from_iterator(list(texts), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  model_max_length=4096)
    return install_chat_template(tok)


def build_tiny(tokenizer: Any, *, hidden_size: int, num_hidden_layers: int, num_attention_heads: int = 4,
               num_key_value_heads: int = 2, intermediate_size: int | None = None, max_position_embeddings: int = 2048,
               seed: int = 0) -> Any:
    """A random-weight Llama sized to ``tokenizer`` (``structcall.models.build_tiny_model``)."""
    from structcall.models import build_tiny_model

    return build_tiny_model(tokenizer, arch="llama", hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
                            num_attention_heads=num_attention_heads, num_key_value_heads=num_key_value_heads,
                            intermediate_size=intermediate_size or hidden_size * 3,
                            max_position_embeddings=max_position_embeddings, seed=seed)


def load_causal_lm(source: str | Path, *, device: str | None = None) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from a model id, folder, ``.gguf`` file or ``"smollm2"``.

    The tokenizer keeps its own chat template (a tiny model's folder holds the experiment's);
    EOS becomes ChatML's ``<|im_end|>``. Training and evaluation both write prompts with
    ``structcall``'s prompt renderer, so they see the same text."""
    from structcall.models import load_model

    model, tok = load_model(source, device=device)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and getattr(quantizer.quantization_config, "quant_method", None) == "gguf":
        # transformers de-quantizes GGUF weights to full-precision tensors on load but still flags the
        # model as quantized, which blocks training and saving; the tensors are plain weights
        quantizer.remove_quantization_config(model)
    install_chat_template(tok, template=False)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    return model, tok


def save_model(model: Any, tokenizer: Any, path: str | Path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def device_name() -> str:
    """``cuda`` when a GPU is visible, else ``cpu`` (used for generation; training lets TRL pick)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
