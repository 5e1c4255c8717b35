"""Pick a backend by name (a plain dict), build it once per tokenizer, and cache it."""

from __future__ import annotations

import difflib
import importlib
import threading
import weakref
from typing import Any

from structcall.decoding.base import Backend, BackendError
from structcall.decoding.vocab import tokenizer_info

__all__ = ["BACKENDS", "get_backend"]

#: backend name -> (module, class, pip extra, library imported by the module)
BACKENDS: dict[str, tuple[str, str, str, str]] = {
    "llguidance": ("structcall.decoding.llguidance_backend", "LLGuidanceBackend", "llguidance", "llguidance"),
    "outlines": ("structcall.decoding.outlines_backend", "OutlinesBackend", "outlines", "outlines_core"),
    "xgrammar": ("structcall.decoding.xgrammar_backend", "XGrammarBackend", "xgrammar", "xgrammar"),
}

_CACHE: "weakref.WeakKeyDictionary[Any, dict[tuple[str, tuple[int, ...]], Backend]]" = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def get_backend(name: str, tokenizer: Any, *, stop_ids: tuple[int, ...]) -> Backend:
    """The backend ``name`` for ``tokenizer`` (built once, then cached with its compiled grammars).

    Raises :class:`BackendError` for an unknown name (listing the known ones) or when the
    backend's library is missing (naming the pip extra that installs it).
    """
    if name not in BACKENDS:
        close = difflib.get_close_matches(str(name), BACKENDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise BackendError(f"unknown backend {name!r}; known: {sorted(BACKENDS)}.{hint}")
    key = (name, tuple(stop_ids))
    with _LOCK:
        cached = _CACHE.get(tokenizer, {}).get(key)
    if cached is not None:
        return cached
    module_name, class_name, extra, library = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != library:
            raise
        raise BackendError(
            f"backend={name!r} needs the {library!r} package, which is not installed: "
            f"pip install 'structcall[{extra}]' ({exc})"
        ) from exc
    backend = getattr(module, class_name)(tokenizer, tokenizer_info(tokenizer, tuple(stop_ids)))
    with _LOCK:
        _CACHE.setdefault(tokenizer, {})[key] = backend
    return backend
