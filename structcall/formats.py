"""Output formats: one grammar template per format in the package's `grammars/` folder.

Each template (``grammars/<name>.lark``) is a small Lark-syntax file with a ``// meta: {...}``
line and two rules, ``calls_one`` (exactly one call) and ``calls_many`` (1..max_calls calls),
written in terms of ``call`` (one tool call, supplied by the compiler) and ``MAX_MORE``
(``max_calls - 1``). `load_format` reads and parses it into grammar IR; there is no other
place where a format's envelope is written down.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .grammar import Chars, Lit, Node, Ref, Rep, alt, seq

__all__ = ["OutputFormat", "FORMATS", "load_format", "template_text", "detect_format", "check_format"]

FORMATS = ("json", "hermes", "pythonic", "mistral")
"""Known output format names."""


@dataclass(frozen=True)
class OutputFormat:
    """A parsed format template.

    Attributes:
        name: the format's name.
        trigger: text that opens the call section wherever it appears (None: calls must start
            the output, with one of `opener`'s characters).
        opener: characters a call section starts with when there is no trigger.
        text_before_call: whether free text may precede the call section (tool_choice="auto").
        body: "json" (a JSON object per call) or "python" (``name(k=v, ...)``).
        arguments_key: key of the arguments in a JSON call object.
        description: the template's leading comment.
    """

    name: str
    trigger: str | None
    opener: str | None
    text_before_call: bool
    body: str
    arguments_key: str | None
    description: str
    source: str

    def rules(self, max_calls: int) -> dict[str, Node]:
        """The template's rules as grammar IR, with MAX_MORE = max_calls - 1."""
        return _parse_rules(self.source.replace("MAX_MORE", str(max(0, max_calls - 1))))


_META_GRAMMAR = r"""
?alts: seqn ("|" seqn)*
seqn: item+
item: atom QUANT?
?atom: STRING -> lit
     | NAME -> ref
     | "(" alts ")"
QUANT: "?" | "*" | "+" | /\{[0-9]+(,[0-9]*)?\}/
NAME: /[a-z_][a-z0-9_]*/
%import common.ESCAPED_STRING -> STRING
%import common.WS
%ignore WS
"""


@lru_cache(maxsize=1)
def _meta_parser():
    import lark

    return lark.Lark(_META_GRAMMAR, start="alts", parser="lalr")


def _to_ir(tree) -> Node:
    d = tree.data if hasattr(tree, "data") else None
    if d == "alts":
        return alt(*[_to_ir(c) for c in tree.children])
    if d == "seqn":
        return seq(*[_to_ir(c) for c in tree.children])
    if d == "item":
        node = _to_ir(tree.children[0])
        if len(tree.children) == 1:
            return node
        q = str(tree.children[1])
        if q == "?":
            return Rep(node, 0, 1)
        if q == "*":
            return Rep(node, 0, None)
        if q == "+":
            return Rep(node, 1, None)
        m = re.fullmatch(r"\{(\d+)(?:,(\d*))?\}", q)
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else (int(m.group(2)) if m.group(2) else None)
        return Rep(node, lo, hi)
    if d == "lit":
        return Lit(json.loads(str(tree.children[0])))
    if d == "ref":
        return Ref(str(tree.children[0]))
    raise ValueError(f"bad template node {tree!r}")


def _parse_rules(source: str) -> dict[str, Node]:
    rules: dict[str, Node] = {}
    for lineno, line in enumerate(source.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("//"):
            continue
        m = re.match(r"^([a-z_][a-z0-9_]*)\s*:\s*(.+)$", s)
        if not m:
            raise ValueError(f"grammar template line {lineno}: expected 'name: body', got {s!r}")
        try:
            rules[m.group(1)] = _to_ir(_meta_parser().parse(m.group(2)))
        except Exception as e:
            raise ValueError(f"grammar template line {lineno}: {e}") from None
    return rules


def template_text(name: str) -> str:
    """The raw text of a format's grammar template (``grammars/<name>.lark``)."""
    check_format(name)
    return resources.files("structcall.grammars").joinpath(f"{name}.lark").read_text(encoding="utf-8")


def check_format(name) -> str:
    if name not in FORMATS:
        hint = difflib.get_close_matches(str(name), FORMATS, n=1)
        raise ValueError(
            f"unknown output format {name!r}; known formats: {', '.join(FORMATS)}"
            + (f". Did you mean {hint[0]!r}?" if hint else "")
        )
    return name


@lru_cache(maxsize=None)
def load_format(name: str) -> OutputFormat:
    """Load and parse the template of output format `name`."""
    src = template_text(name)
    meta_line = next((ln for ln in src.splitlines() if ln.startswith("// meta:")), None)
    if meta_line is None:
        raise ValueError(f"grammar template {name}.lark has no '// meta:' line")
    meta = json.loads(meta_line.split(":", 1)[1])
    desc = "\n".join(ln[2:].strip() for ln in src.splitlines() if ln.startswith("//") and not ln.startswith("// meta:")).strip()
    fmt = OutputFormat(
        name=name,
        trigger=meta["trigger"],
        opener=meta["opener"],
        text_before_call=bool(meta["text_before_call"]),
        body=meta["body"],
        arguments_key=meta["arguments_key"],
        description=desc,
        source=src,
    )
    rules = fmt.rules(2)
    for need in ("calls_one", "calls_many"):
        if need not in rules:
            raise ValueError(f"grammar template {name}.lark lacks the rule {need!r}")
    return fmt


def detect_format(tokenizer_or_template) -> str:
    """Guess the output format from a tokenizer's chat template (or the template string).

    ``<tool_call>`` -> hermes; ``[TOOL_CALLS]`` -> mistral; a Llama-3.2 style template that asks
    for ``[func_name(...)]`` -> pythonic; any other ChatML template -> hermes; else json.
    """
    tpl = tokenizer_or_template
    if not isinstance(tpl, str):
        tpl = getattr(tokenizer_or_template, "chat_template", None) or ""
        if isinstance(tpl, dict):
            tpl = "\n".join(str(v) for v in tpl.values())
    if "<tool_call>" in tpl:
        return "hermes"
    if "[TOOL_CALLS]" in tpl:
        return "mistral"
    if re.search(r"\[func_name1\(|\[func_name\(|pythonic", tpl):
        return "pythonic"
    if "<|im_start|>" in tpl:
        return "hermes"
    return "json"


_WS = " \t\n\r"


def not_opener_text(opener: str) -> Node:
    """Text whose first non-whitespace character is not in `opener` (may be empty): what a
    plain answer is in formats whose calls start the output."""
    from .grammar import FreeText

    ws = Chars.of([(ord(c), ord(c)) for c in _WS])
    first = Chars.of([(ord(c), ord(c)) for c in opener + _WS], negated=True)
    # leading whitespace is bounded: a weak model must not loop on newlines (no call, no text)
    return alt(Rep(ws, 0, 8), seq(Rep(ws, 0, 8), first, FreeText(None)))
