"""Find tool calls as they complete in a growing output, for streaming.

:class:`CallSplitter` is fed the output text as it grows and returns, for every call that
has just closed, the call rewritten as a complete one-call output in the same format
(so the core parser validates it exactly as it validates a whole output). It tracks
strings and escapes, so braces, brackets or parentheses inside values do not count.
"""

from __future__ import annotations

__all__ = ["CallSplitter"]

_OPEN = {"{": "}", "[": "]", "(": ")"}
_CLOSE = set(_OPEN.values())


class CallSplitter:
    """Incremental scanner for the calls of one output in ``format``."""

    def __init__(self, format: str):
        if format not in ("hermes", "json", "pythonic", "mistral"):
            raise ValueError(f"no call splitter for format {format!r}")
        self.format = format
        self._text = ""
        self._pos = 0
        # "seek": looking for the call section; "scan": inside it; "done": no more calls
        self._mode = "seek" if format in ("hermes", "mistral") else "start"
        self._depth = 0
        self._quote: str | None = None
        self._escape = False
        self._start = -1  # start index of the current call
        self._element_depth = 1  # depth at which calls are elements

    def _wrap(self, body: str) -> str:
        if self.format == "hermes":
            return f"<tool_call>\n{body}\n</tool_call>"
        if self.format == "mistral":
            return f"[TOOL_CALLS][{body}]"
        if self.format == "pythonic":
            return f"[{body}]"
        return body

    def feed(self, text: str) -> list[str]:
        """Give the whole output so far (it only ever grows); get the newly complete calls."""
        if not text.startswith(self._text):
            raise ValueError("CallSplitter.feed() needs the whole output so far, which only grows")
        self._text = text
        done: list[str] = []
        python = self.format == "pythonic"
        while self._pos < len(text) and self._mode != "done":
            if self._mode == "start":  # json / pythonic: the call section starts the output
                ch = text[self._pos]
                if self.format == "json" and ch == "{":
                    self._mode, self._element_depth = "scan", 0
                elif ch == "[":
                    self._mode, self._element_depth = "scan", 1
                    self._depth = 1
                    self._pos += 1
                    continue
                else:
                    self._mode = "done"
                    break
                continue
            if self._mode == "seek":
                trigger = "<tool_call>" if self.format == "hermes" else "[TOOL_CALLS]["
                at = text.find(trigger, self._pos)
                if at < 0:
                    self._pos = max(self._pos, len(text) - len(trigger) + 1)
                    break
                self._pos = at + len(trigger)
                self._mode = "scan"
                self._depth = 0 if self.format == "hermes" else 1
                self._element_depth = 0 if self.format == "hermes" else 1
                continue
            ch = text[self._pos]
            if self._quote is not None:
                if self._escape:
                    self._escape = False
                elif ch == "\\":
                    self._escape = True
                elif ch == self._quote:
                    self._quote = None
            elif ch == '"' or (python and ch == "'"):
                self._quote = ch
            elif ch in _OPEN:
                if self._depth == self._element_depth and self._start < 0:
                    self._start = self._pos if not python else self._call_start(text, self._pos)
                self._depth += 1
            elif ch in _CLOSE:
                self._depth -= 1
                if self._depth == self._element_depth and self._start >= 0:
                    done.append(self._wrap(text[self._start:self._pos + 1]))
                    self._start = -1
                    if self.format == "hermes":
                        self._mode = "seek"
                    elif self._element_depth == 0:
                        self._mode = "done"  # a single JSON call object
                elif self._depth < self._element_depth:
                    self._mode = "done"
            self._pos += 1
        return done

    @staticmethod
    def _call_start(text: str, paren: int) -> int:
        """Start of the pythonic call whose argument list opens at ``paren``."""
        i = paren
        while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_.-"):
            i -= 1
        return i
