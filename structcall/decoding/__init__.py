"""Constrained decoding on Hugging Face transformers models, and ``generate()``.

Layout (each module imports only what stands to its left):
``vocab`` (tokenizer bytes) -> ``base`` (backend seam) -> ``*_backend`` (one library each)
-> ``backends`` (pick by name) -> ``loop`` (batched KV-cached decoding, fast-forward) -> ``logits_processor`` (transformers)
-> ``prompt`` (chat template / tool prompt) -> ``stream`` -> ``options`` -> ``generate``.
"""

from structcall.decoding.backends import BACKENDS, get_backend
from structcall.decoding.base import Backend, BackendError, DecodingError, Matcher
from structcall.decoding.generate import (
    DecodingOptions,
    GenerationResult,
    GrammarOptions,
    PromptOptions,
    StreamEvent,
    ToolCallRetryError,
    generate,
    generate_batch,
    stream_generate,
)
from structcall.decoding.logits_processor import ToolLogitsProcessor
from structcall.decoding.prompt import render_prompt, template_renders_tools

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "DecodingError",
    "DecodingOptions",
    "GenerationResult",
    "GrammarOptions",
    "Matcher",
    "PromptOptions",
    "StreamEvent",
    "ToolCallRetryError",
    "ToolLogitsProcessor",
    "generate",
    "generate_batch",
    "get_backend",
    "render_prompt",
    "stream_generate",
    "template_renders_tools",
]
