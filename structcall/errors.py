"""Error types.

Two families, kept apart on purpose:

* the *user's* mistakes - a tool schema that is malformed (`SchemaError`) or uses a keyword that
  cannot be honoured in strict mode (`UnsupportedSchemaError`) - raised at compile time;
* the *model's* misbehaviour - an output that does not parse or does not validate
  (`ToolCallError`) - raised at parse time, with a deterministic feedback message that can be
  sent back to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Problem",
    "SchemaError",
    "UnsupportedSchemaError",
    "ToolCallError",
    "ERROR_KINDS",
]


@dataclass(frozen=True)
class Problem:
    """One problem found in user input, located by a JSON pointer into that input."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class SchemaError(ValueError):
    """The tools given to structcall are invalid. Lists every problem with its JSON pointer."""

    def __init__(self, problems: list[Problem], *, what: str = "tool definitions"):
        self.problems = list(problems)
        n = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the {what}:\n{lines}")


class UnsupportedSchemaError(ValueError):
    """A schema keyword the grammar cannot express, raised in strict mode (or by a backend
    that cannot express a construct, e.g. a recursive schema as a regular expression)."""

    def __init__(self, keyword: str, pointer: str, detail: str = ""):
        self.keyword = keyword
        self.pointer = pointer
        self.detail = detail
        msg = f"unsupported schema keyword {keyword!r} at {pointer or '/'}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


ERROR_KINDS = (
    "parse",
    "truncated",
    "unknown_tool",
    "unknown_argument",
    "missing_argument",
    "type",
    "value",
    "count",
    "no_call",
)


class ToolCallError(ValueError):
    """A model output that is not a valid tool call.

    Attributes:
        kind: the first (most fundamental) error kind, one of `ERROR_KINDS`.
        pointer: JSON pointer of the first error, into the call list
            (``/0/arguments/city``) or ``""`` for the whole output.
        feedback: a short deterministic message fit to send back to the model.
        errors: every error found, as ``(kind, pointer, message)`` tuples, in a stable order.
    """

    def __init__(self, kind: str, pointer: str, message: str, *, errors=None, text: str | None = None):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown ToolCallError kind {kind!r}")
        self.kind = kind
        self.pointer = pointer
        self.message = message
        self.errors: list[tuple[str, str, str]] = list(errors) if errors else [(kind, pointer, message)]
        self.text = text
        super().__init__(self.feedback)

    @property
    def feedback(self) -> str:
        n = len(self.errors)
        lines = "\n".join(
            f"- {k} error at {p or '/'}: {m}" for k, p, m in self.errors
        )
        return (
            f"{n} error{'s' if n != 1 else ''} in your tool call{'s' if n != 1 else ''}:\n{lines}\n"
            "Fix the errors and try again."
        )
