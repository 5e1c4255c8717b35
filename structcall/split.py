"""Find tool calls as they complete in a growing output (streaming, and cut outputs).

:class:`CallSplitter` is fed the output text as it grows and returns, for every call that
has just closed, the call rewritten as a complete one-call output in the same format (so the
core parser validates it exactly as it validates a whole output). It reads the format's
envelope from its `OutputFormat` entry and tracks strings and escapes, so braces, brackets or
parentheses inside values do not count.
"""

from __future__ import annotations

from .formats import OutputFormat, load_format

__all__ = ["CallSplitter"]

_OPEN = {"{": "}", "[": "]", "(": ")"}
_CLOSE = set(_OPEN.values())


def _depth_of(text: str) -> int:
    return sum(text.count(c) for c in _OPEN) - sum(text.count(c) for c in _CLOSE)


class CallSplitter:
    """Incremental scanner for the calls of one output in ``format`` (a name or an
    `OutputFormat`).

    After each `feed`, `complete_end` is the index just after the last complete call and
    `section_start` the index where the call section began (None before it)."""

    def __init__(self, format):
        self.fmt: OutputFormat = format if isinstance(format, OutputFormat) else load_format(format)
        fmt = self.fmt
        self.format = fmt.name
        self._python = fmt.body == "python"
        self._text = ""
        self._pos = 0
        # "seek": looking for the call section (or the next tagged call); "start": the
        # section must start the output; "scan": inside it; "done": no more calls
        self._mode = "seek" if fmt.trigger else "start"
        self._seek = (fmt.section_open or fmt.call_open).strip()
        self._depth = 0
        self._quote: str | None = None
        self._escape = False
        self._start = -1  # start index of the current call
        self._element_depth = _depth_of(fmt.section_open.strip())
        self.complete_end = 0
        self.section_start: int | None = None
        self.ends: list[int] = []  # end index of each complete call, in order

    def _wrap(self, body: str) -> str:
        return self.fmt.wrap([body])

    @property
    def in_call(self) -> bool:
        """Whether the text fed so far ends inside an unfinished call (or section opener)."""
        return self._start >= 0 or (self._mode == "seek" and self.section_start is not None and self._pending_open())

    def _pending_open(self) -> bool:
        rest = self._text[self.complete_end:].strip()
        return bool(rest) and rest != self.fmt.section_close.strip()

    def feed(self, text: str) -> list[str]:
        """Give the whole output so far (it only ever grows); get the newly complete calls."""
        if not text.startswith(self._text):
            raise ValueError("CallSplitter.feed() needs the whole output so far, which only grows")
        self._text = text
        if self.fmt.call_template:
            return self._feed_templated(text)
        if self.fmt.body == "xml":
            return self._feed_xml(text)
        done: list[str] = []
        fmt = self.fmt
        python = self._python
        while self._pos < len(text) and self._mode != "done":
            if self._mode == "start":  # the call section starts the output
                ch = text[self._pos]
                head = fmt.section_open.strip()
                if (fmt.bare_single or not head) and ch == "{":
                    self._mode, self._element_depth = "scan", 0
                    self.section_start = self._pos
                elif head and ch == head[0]:
                    if not text.startswith(head[: len(text) - self._pos], self._pos):
                        self._mode = "done"
                        break
                    if len(text) - self._pos < len(head):
                        break  # wait for the whole opener
                    self.section_start = self._pos
                    self._mode = "scan"
                    self._depth = self._element_depth
                    self._pos += len(head)
                else:
                    self._mode = "done"
                    break
                continue
            if self._mode == "seek":
                at = text.find(self._seek, self._pos)
                if at < 0:
                    self._pos = max(self._pos, len(text) - len(self._seek) + 1)
                    break
                if self.section_start is None:
                    self.section_start = at
                self._pos = at + len(self._seek)
                self._mode = "scan"
                self._depth = self._element_depth
                if fmt.call_open:
                    self._seek = fmt.call_open.strip()
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
                    self.complete_end = self._pos + 1
                    if fmt.call_open:
                        self._mode = "seek"  # the next call needs its own opener
                        close = fmt.call_close.strip()
                        k = text.find(close, self._pos + 1)
                        if k >= 0 and not text[self._pos + 1:k].strip():
                            self.complete_end = k + len(close)
                    self.ends.append(self.complete_end)
                    if self._element_depth == 0 and fmt.bare_single:
                        self._mode = "done"  # a single bare call object
                elif self._depth < self._element_depth:
                    self._mode = "done"
            self._pos += 1
        return done

    def _feed_templated(self, text: str) -> list[str]:
        """Calls written around their name and JSON arguments (`call_template`): a call is
        complete when its arguments parse and its closing text follows."""
        import json

        fmt = self.fmt
        pre, mid, post = fmt.call_parts()
        close = post.strip()
        done: list[str] = []
        while self._mode != "done":
            if self.section_start is None:
                at = text.find(fmt.trigger, self._pos)
                if at < 0:
                    self._pos = max(self._pos, len(text) - len(fmt.trigger) + 1)
                    break
                self.section_start = at
                self._pos = at
            at = text.find(pre, self._pos)
            if at < 0:
                break
            idx = fmt.index_parts()
            after = mid if idx is None else idx[1]  # Kimi K2: NAME:NUMBER, then this
            j = text.find(after, at + len(pre))
            if j < 0:
                break
            k = j + len(after)
            while k < len(text) and text[k] in " \t\r\n":
                k += 1
            try:
                _, end = json.JSONDecoder().raw_decode(text, k)
            except (ValueError, RecursionError):
                break  # the arguments are not complete yet
            e = end
            while e < len(text) and text[e] in " \t\r\n":
                e += 1
            if not text.startswith(close, e):
                break
            e += len(close)
            self._start = -1
            done.append(text[at:e])
            self.complete_end = e
            self.ends.append(e)
            self._pos = e
            if fmt.single_call:
                self._mode = "done"
        return [fmt.wrap([d]) for d in done]

    def _feed_xml(self, text: str) -> list[str]:
        """XML calls (qwen3_coder, glm, minimax_m2, deepseek_v32): a call is complete at its
        function closer (or, where it has none, at its block's closer)."""
        fmt = self.fmt
        fn_head = fmt.xml_parts[0].split("{name}")[0]
        fn_end = fmt.xml_parts[3].strip()
        each_open = fmt.call_open.strip() or fn_head
        close = fmt.call_close.strip()
        done: list[str] = []
        while True:
            if self.section_start is None:
                head = (fmt.section_open or fmt.call_open).strip()
                at = text.find(head, self._pos)
                if at < 0:
                    self._pos = max(self._pos, len(text) - len(head) + 1)
                    break
                self.section_start = at
                self._pos = at if fmt.call_open else at + len(head)
            at = text.find(each_open, self._pos)
            if at < 0:
                break
            start = at
            if fmt.call_open:  # the call's body starts after its block's opener
                start = at + len(each_open)
                while start < len(text) and text[start] in " \t\r\n":
                    start += 1
            if fn_end:
                e = text.find(fn_end, start)
                if e < 0:
                    break
                end = e + len(fn_end)
                body = text[start:end]
                k = end
                while k < len(text) and text[k] in " \t\r\n":
                    k += 1
                self.complete_end = k + len(close) if close and text.startswith(close, k) else end
            else:  # GLM: the call ends with its block
                e = text.find(close, start)
                if e < 0:
                    break
                body = text[start:e].rstrip(" \t\r\n")
                end = self.complete_end = e + len(close)
            done.append(fmt.wrap([body]))
            self.ends.append(self.complete_end)
            self._pos = end
        return done

    @staticmethod
    def _call_start(text: str, paren: int) -> int:
        """Start of the pythonic call whose argument list opens at ``paren``."""
        i = paren
        while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_.-"):
            i -= 1
        return i
