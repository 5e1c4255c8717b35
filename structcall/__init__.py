"""structcall: reliable function calling for small language models.

Compile tool schemas into grammars for constrained decoding, parse and validate every call,
and measure how much of preference training's gain on function calling is format.
"""

from .compile import ToolGrammar, compile_tools
from .errors import SchemaError, ToolCallError, UnsupportedSchemaError
from .parse import ToolCall, parse_calls
from .tools import ToolSpec

__version__ = "0.1.0"

__all__ = [
    "generate",
    "generate_batch",
    "stream_generate",
    "ToolCallRetryError",
    "ToolLogitsProcessor",
    "compile_tools",
    "parse_calls",
    "ToolSpec",
    "ToolCall",
    "ToolGrammar",
    "ToolCallError",
    "SchemaError",
    "UnsupportedSchemaError",
]


def __getattr__(name: str):
    # `generate` needs torch and transformers (the `hf` extra); import them only when asked
    if name in ("generate", "generate_batch", "stream_generate", "ToolCallRetryError"):
        from . import decoding

        return getattr(decoding, name)
    if name == "ToolLogitsProcessor":
        from .decoding.logits_processor import ToolLogitsProcessor

        return ToolLogitsProcessor
    raise AttributeError(f"module 'structcall' has no attribute {name!r}")
