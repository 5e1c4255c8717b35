"""JSON Pointers (RFC 6901): the addresses in errors and notes (``/properties/unit``), and the
targets of local ``$ref``s (``#/$defs/address``).

A key becomes a pointer token with ``~`` written ``~0`` and ``/`` written ``~1``; `unescape`
reads a token back. `resolve` follows a pointer through a document and, when it leads nowhere,
raises `PointerError` naming the pointer and the token that failed.
"""

from __future__ import annotations

__all__ = ["PointerError", "escape", "unescape", "join", "split", "resolve", "resolve_ref"]


class PointerError(LookupError):
    """A pointer that leads nowhere in its document (or is not a pointer)."""

    def __init__(self, pointer: str, reason: str):
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"JSON pointer {pointer!r}: {reason}")


def escape(key) -> str:
    """The pointer token of an object key or array index."""
    return str(key).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """The key a pointer token names (``~1`` -> ``/``, then ``~0`` -> ``~``)."""
    return token.replace("~1", "/").replace("~0", "~")


def join(base: str, *keys) -> str:
    """`base` extended by one token per key: ``join("/properties", "a/b") == "/properties/a~1b"``."""
    return base + "".join("/" + escape(k) for k in keys)


def split(pointer: str) -> list[str]:
    """The keys of a pointer (unescaped): ``split("/a~1b/0") == ["a/b", "0"]``, ``split("") == []``."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerError(pointer, "a JSON pointer is empty or starts with '/'")
    return [unescape(t) for t in pointer[1:].split("/")]


def resolve(doc, pointer: str):
    """The value `pointer` names in `doc`. An array index is a decimal number below the array's
    length. Raises `PointerError` naming the pointer and the key that is not there."""
    for i, key in enumerate(split(pointer)):
        if isinstance(doc, dict) and key in doc:
            doc = doc[key]
        elif isinstance(doc, list) and key.isascii() and key.isdigit() and int(key) < len(doc):
            doc = doc[int(key)]
        else:
            at = join("", *split(pointer)[:i]) or "the document root"
            what = "array" if isinstance(doc, list) else "object" if isinstance(doc, dict) else type(doc).__name__
            raise PointerError(pointer, f"no {key!r} in the {what} at {at}")
    return doc


def resolve_ref(root, ref: str):
    """The value a local reference (``#`` followed by a pointer, as in ``$ref``) names in `root`."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise PointerError(str(ref), "only local references ('#/...') are supported")
    try:
        return resolve(root, ref[1:])
    except PointerError as e:
        raise PointerError(ref, e.reason) from None
