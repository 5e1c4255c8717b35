"""What the decoder needs to know about a tokenizer: token bytes, special and stop ids.

Computed once per tokenizer (and set of stop ids) and cached.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TokenizerInfo", "stop_token_ids", "tokenizer_info"]


@dataclass(frozen=True, eq=False)
class TokenizerInfo:
    """Byte view of a Hugging Face tokenizer's vocabulary.

    ``token_bytes[i]`` is what token ``i`` adds to the output (for special tokens: their
    text). ``special_ids`` are the tokenizer's special/control tokens; under a grammar
    they are never allowed, except the ``stop_ids`` once the output is complete.
    """

    vocab_size: int
    token_bytes: tuple[bytes, ...]
    special_ids: frozenset[int]
    stop_ids: tuple[int, ...]
    pad_id: int
    #: bool array (vocab_size,): True where a token may appear inside constrained text
    text_allowed: np.ndarray

    def decode_bytes(self, ids: list[int]) -> bytes:
        return b"".join(self.token_bytes[i] for i in ids)


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's byte <-> printable-unicode table, inverted (char -> byte)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def _decoder_kinds(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return ""
    parts = [repr(backend.decoder), repr(backend.pre_tokenizer), repr(backend.model)]
    return " ".join(parts)


def _token_bytes(tokenizer: Any, vocab_size: int, special: set[int]) -> tuple[bytes, ...]:
    kinds = _decoder_kinds(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    out: list[bytes] = []
    if "ByteLevel" in kinds:
        table = _bytes_to_unicode()
        for i, piece in enumerate(pieces):
            if piece is None:
                out.append(b"")
            elif i in special or any(ch not in table for ch in piece):
                out.append(piece.encode("utf-8"))
            else:
                out.append(bytes(table[ch] for ch in piece))
        return tuple(out)
    for i, piece in enumerate(pieces):
        if piece is None:
            out.append(b"")
        elif i in special:
            out.append(piece.encode("utf-8"))
        elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            out.append(bytes([int(piece[3:5], 16)]))  # sentencepiece byte fallback
        elif "Metaspace" in kinds or piece.startswith("▁"):
            out.append(piece.replace("▁", " ").encode("utf-8"))
        else:
            out.append(tokenizer.convert_tokens_to_string([piece]).encode("utf-8"))
    return tuple(out)


def stop_token_ids(tokenizer: Any, model: Any = None) -> tuple[int, ...]:
    """The ids that end a turn: the tokenizer's EOS plus the model's generation-config EOS ids."""
    ids: list[int] = []
    candidates: list[Any] = [getattr(tokenizer, "eos_token_id", None)]
    config = getattr(model, "generation_config", None)
    if config is not None:
        candidates.append(getattr(config, "eos_token_id", None))
    for value in candidates:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, int) and item not in ids:
                ids.append(item)
    if not ids:
        raise ValueError(
            "the tokenizer has no eos_token_id and the model's generation_config names none; "
            "set tokenizer.eos_token to the token that ends an assistant turn"
        )
    return tuple(ids)


_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple[int, ...], TokenizerInfo]]" = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def tokenizer_info(tokenizer: Any, stop_ids: tuple[int, ...]) -> TokenizerInfo:
    """Build (or fetch from cache) the :class:`TokenizerInfo` of ``tokenizer``."""
    with _LOCK:
        per_tok = _CACHE.setdefault(tokenizer, {})
        if stop_ids in per_tok:
            return per_tok[stop_ids]
    vocab_size = len(tokenizer)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    for idx, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(added, "special", False):
            special.add(int(idx))
    special = {i for i in special if 0 <= i < vocab_size}
    token_bytes = _token_bytes(tokenizer, vocab_size, special)
    text_allowed = np.ones(vocab_size, dtype=bool)
    for i in special | set(stop_ids):
        if i < vocab_size:
            text_allowed[i] = False
    for i, b in enumerate(token_bytes):
        if not b:
            text_allowed[i] = False
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = stop_ids[0]
    info = TokenizerInfo(
        vocab_size=vocab_size,
        token_bytes=token_bytes,
        special_ids=frozenset(special),
        stop_ids=tuple(stop_ids),
        pad_id=int(pad),
        text_allowed=text_allowed,
    )
    with _LOCK:
        _CACHE.setdefault(tokenizer, {})[stop_ids] = info
    return info
