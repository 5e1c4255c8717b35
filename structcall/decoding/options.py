"""The options of ``generate``, ``generate_batch`` and ``stream_generate``, as three frozen
dataclasses with keyword-only, documented defaults:

* `GrammarOptions`: what the grammar admits (passed to ``compile_tools``);
* `PromptOptions`: how the prompt shows the tools (all of them, or the ``top_k`` retrieved);
* `DecodingOptions`: how tokens are chosen and the output read.

Each entry point takes them as ``grammar_options=``, ``prompt_options=`` and
``decoding_options=``, or their fields as plain keywords (``temperature=0.7``); `resolve_options`
is the one place that turns either into the three objects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Union

from structcall.compile import ToolChoice
from structcall.schema import Limits
from structcall.tools import closest

__all__ = ["DecodingOptions", "GrammarOptions", "Options", "PromptOptions", "ToolChoiceLike", "resolve_options"]

ToolChoiceLike = Union[str, dict, ToolChoice]
"""``"auto"``, ``"required"``, ``"none"``, a tool name, an OpenAI named-function dict, or a `ToolChoice`."""


def _positive_int(name: str, v: Any, *, optional: bool = False) -> None:
    if optional and v is None:
        return
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if optional else ''}, got {v!r}")


@dataclass(frozen=True, kw_only=True)
class GrammarOptions:
    """What the grammar admits; the fields are ``compile_tools``' options.

    Attributes:
        format: output format; None (default) detects it from the tokenizer's chat template.
        tool_choice: ``"auto"`` (text or calls, default), ``"required"``, ``"none"`` or a tool
            name / ``{"type": "function", "function": {"name": ...}}``.
        parallel_tool_calls: False allows exactly one call (enforced by the grammar).
        max_calls: cap on parallel calls (None: ``compile.DEFAULT_MAX_CALLS``, reported in
            ``ToolGrammar.capped``).
        strict: raise for a schema keyword the grammar cannot express instead of leaving it
            to the validator (listed in ``ToolGrammar.unenforced``).
        allow_think: admit a leading ``<think>...</think>`` block (reasoning models).
        limits: caps for values the schema leaves unbounded (None: ``Limits()``).
    """

    format: str | None = None
    tool_choice: ToolChoiceLike = "auto"
    parallel_tool_calls: bool = True
    max_calls: int | None = None
    strict: bool = False
    allow_think: bool = False
    limits: Limits | None = None

    def __post_init__(self):
        if self.format is not None and not isinstance(self.format, str):
            raise TypeError(f"format must be a format name (str) or None, got {type(self.format).__name__}")
        _positive_int("max_calls", self.max_calls, optional=True)
        if self.limits is not None and not isinstance(self.limits, Limits):
            raise TypeError(f"limits must be a structcall.schema.Limits or None, got {type(self.limits).__name__}")


@dataclass(frozen=True, kw_only=True)
class PromptOptions:
    """How the prompt shows the tools.

    Attributes:
        tool_prompt: ``"full"`` JSON schemas (default), ``"compact"`` one-line signatures
            ``name(arg: type, ...) - what it does``, or ``"names"`` (name and one line). The
            grammar holds every admitted tool's full schema whatever the prompt shows.
        top_k: treat ``tools`` as a library (a list, or a ``structcall.retrieval.ToolLibrary``
            to index it once for many calls) and show only the ``top_k`` tools the retriever
            ranks best for the last user message (a named ``tool_choice`` is always among
            them). None (default): every tool is shown.
        retriever: the ``structcall.retrieval.Retriever`` used with ``top_k`` (None: BM25).
        restrict_to_candidates: with ``top_k``, True (default) limits the grammar and
            ``tool_choice`` to the retrieved tools; False keeps every tool of the library
            callable (the prompt still shows only the candidates).
    """

    tool_prompt: str = "full"
    top_k: int | None = None
    retriever: Any = None
    restrict_to_candidates: bool = True

    def __post_init__(self):
        if self.top_k is None:
            if self.retriever is not None:
                raise ValueError("retriever= needs top_k= (how many tools to put in the prompt)")
        else:
            try:
                _positive_int("top_k", self.top_k)
            except ValueError:
                raise ValueError(f"top_k must be a positive integer, got {self.top_k!r}") from None


@dataclass(frozen=True, kw_only=True)
class DecodingOptions:
    """How tokens are chosen and the output is read.

    Attributes:
        backend: ``"llguidance"`` (default), ``"outlines"`` (regular grammars only) or ``"xgrammar"``.
        constrained: False decodes with the same prompt and sampling but no grammar mask,
            then parses and validates (errors land in ``result.errors``).
        max_new_tokens: cap on generated tokens (finish_reason ``"length"`` when hit); 256.
        temperature: 0 = greedy (default); otherwise sampling with ``top_p`` and ``seed``.
        top_p: nucleus sampling mass, in (0, 1]; 1.0 (default) samples from every token.
        seed: seeds the sampler (``seed + attempt`` on retries, ``seed + i`` for request ``i``
            of a batch); None uses torch's global RNG.
        fast_forward: feed grammar-forced text in multi-token forward passes, drafted with
            token healing and confirmed token by token by the model: the same output as
            False, in fewer forward passes (default True).
        stop_on_repeat: end the output when the model repeats, word for word, a call it
            already made in it; the repeat is dropped and reported in ``result.notes``
            (``stop == "repeat"``). Pass False for tools meant to be called twice with the
            same arguments.
        lenient: parse with the core parser's repairs (code fences, trailing text, ...).
    """

    backend: str = "llguidance"
    constrained: bool = True
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    fast_forward: bool = True
    stop_on_repeat: bool = True
    lenient: bool = False

    def __post_init__(self):
        if not isinstance(self.max_new_tokens, int) or isinstance(self.max_new_tokens, bool) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


_GROUPS: dict[str, type] = {
    "grammar_options": GrammarOptions,
    "prompt_options": PromptOptions,
    "decoding_options": DecodingOptions,
}
_GROUP_OF: dict[str, str] = {f.name: group for group, cls in _GROUPS.items() for f in fields(cls)}


@dataclass(frozen=True)
class Options:
    """The three option objects of one call, and which grammar options the caller set
    (``grammar_given``: keywords given, or fields of a given `GrammarOptions` that differ from
    the default), which a compiled ``ToolGrammar`` passed as tools must agree with."""

    grammar: GrammarOptions
    prompt: PromptOptions
    decoding: DecodingOptions
    grammar_given: frozenset[str]


def resolve_options(func: str, objects: Mapping[str, Any], keywords: Mapping[str, Any]) -> Options:
    """The `Options` of a call of ``func`` from its option objects (``grammar_options`` etc.,
    None when not given) and its other keyword arguments (fields of the three classes).

    Raises TypeError for an unknown keyword (naming the closest field), for an option object
    of the wrong class, and for a keyword that a given option object also carries."""
    built: dict[str, Any] = {}
    split: dict[str, dict[str, Any]] = {group: {} for group in _GROUPS}
    for name, value in keywords.items():
        group = _GROUP_OF.get(name)
        if group is None:
            raise TypeError(f"{func}() got an unexpected keyword argument {name!r}.{closest(name, [*_GROUP_OF, *_GROUPS])}")
        split[group][name] = value
    for group, cls in _GROUPS.items():
        obj = objects.get(group)
        if obj is None:
            built[group] = cls(**split[group])
            continue
        if not isinstance(obj, cls):
            raise TypeError(f"{func}(): {group} must be a {cls.__name__}, got {type(obj).__name__}")
        if split[group]:
            names = ", ".join(f"{n}=" for n in split[group])
            raise TypeError(
                f"{func}(): {names} given both as a keyword and in {group}= ({cls.__name__}); set it in one "
                f"place, e.g. {group}=dataclasses.replace({group}, {next(iter(split[group]))}=...)"
            )
        built[group] = obj
    default = GrammarOptions()
    given = set(split["grammar_options"]) | {
        f.name for f in fields(GrammarOptions) if getattr(built["grammar_options"], f.name) != getattr(default, f.name)
    }
    return Options(built["grammar_options"], built["prompt_options"], built["decoding_options"], frozenset(given))
