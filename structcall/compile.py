"""`compile_tools`: tools + options -> `ToolGrammar`, cached by a stable hash."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

from .errors import Problem, SchemaError
from .formats import OutputFormat, check_format, load_format, not_opener_text, xml_raw_value
from .grammar import Alt, Chars, FreeText, Grammar, Lit, Node, Ref, Rep, Seq, alt, opt, seq, to_gbnf, to_lark, to_llguidance, to_regex
from .schema import FORMAT_REGEXES, Limits, PatternCompiler, SchemaCompiler, SchemaNote, is_identifier
from .tools import ToolSpec, closest, normalize_tools

__all__ = ["compile_tools", "ToolGrammar", "ToolChoice", "DEFAULT_MAX_CALLS", "normalize_tool_choice", "cache_info", "clear_cache"]

DEFAULT_MAX_CALLS = 16
"""Cap on parallel calls when `max_calls` is not given (reported in `ToolGrammar.capped`)."""
_VERSION = "2"  # bump when the grammar construction changes
_CACHE_SIZE = 256


@dataclass
class _Compiled:
    grammar: Grammar
    unenforced: tuple[SchemaNote, ...]
    capped: tuple[SchemaNote, ...]
    key: str
    strict: bool = False
    limits: Limits = field(default_factory=Limits)
    texts: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: "OrderedDict[str, _Compiled]" = OrderedDict()
_raw_cache: "OrderedDict[bytes, tuple]" = OrderedDict()
_cache_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def cache_info() -> dict:
    """Hits, misses and size of the compiled-grammar cache."""
    return {**_stats, "size": len(_cache)}


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _raw_cache.clear()


@dataclass(frozen=True)
class ToolChoice:
    """A tool choice as a typed value: ``mode`` is ``"auto"``, ``"required"``, ``"none"`` or
    ``"function"`` (exactly one call of the tool ``name``). The OpenAI dict shape
    ``{"type": "function", "function": {"name": ...}}`` always means the named tool, so a tool
    called ``none``, ``auto`` or ``required`` can be chosen by name."""

    mode: str
    name: str | None = None

    def __post_init__(self):
        if self.mode not in ("auto", "required", "none", "function"):
            raise ValueError(f"ToolChoice mode must be 'auto', 'required', 'none' or 'function', got {self.mode!r}")
        if (self.mode == "function") != isinstance(self.name, str):
            raise ValueError("ToolChoice: a name goes with mode='function' and only with it")

    @property
    def named(self) -> bool:
        return self.mode == "function"

    @property
    def allows_text(self) -> bool:
        return self.mode in ("auto", "none")

    @property
    def requires_call(self) -> bool:
        return self.mode in ("required", "function")

    def __str__(self) -> str:
        return self.name if self.named else self.mode

    def key(self) -> str:
        return f"{self.mode}:{self.name or ''}"


def normalize_tool_choice(tool_choice, specs: list[ToolSpec]) -> ToolChoice:
    """The typed `ToolChoice` of 'auto' | 'required' | 'none' | a tool name (a plain string
    other than the three modes) | the OpenAI Chat/Responses named-function shapes (always a
    tool name) | a `ToolChoice`. ``"auto"`` with no tools at all is text only (``"none"``),
    as OpenAI's API treats a request without tools; ``"required"`` then raises when compiled."""
    if tool_choice is None or tool_choice == "auto" or tool_choice == ToolChoice("auto"):
        return ToolChoice("auto" if specs else "none")
    if isinstance(tool_choice, ToolChoice):
        if not tool_choice.named:
            return tool_choice
        name = tool_choice.name
    elif isinstance(tool_choice, dict):
        if tool_choice.get("type") == "function":
            fn = tool_choice.get("function")
            name = fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
        else:
            name = None
        if not isinstance(name, str):
            raise ValueError(
                f"tool_choice {tool_choice!r} is not understood: use 'auto', 'required', 'none', a tool name, "
                "or {'type': 'function', 'function': {'name': ...}}"
            )
    elif isinstance(tool_choice, str):
        if tool_choice in ("auto", "required", "none"):
            return ToolChoice(tool_choice)
        name = tool_choice
    else:
        raise ValueError(f"tool_choice must be a string or dict, got {type(tool_choice).__name__}")
    names = {s.name: s for s in specs}
    by_original = {s.original_name: s for s in specs}
    if name in names:
        return ToolChoice("function", name)
    if name in by_original:
        return ToolChoice("function", by_original[name].name)
    raise ValueError(
        f"tool_choice names the function {name!r}, which is not among the tools "
        f"({', '.join(sorted(names)) or 'none given'}).{closest(name, names)}"
    )


_XML_ROOT_HANDLED = frozenset({
    "type", "properties", "required", "additionalProperties", "title", "description", "default",
    "examples", "$schema", "$id", "$comment", "$defs", "definitions", "deprecated", "readOnly", "writeOnly"})
_RAW_CHAR = Chars.of([(ord("<"), ord("<"))], negated=True)
_WS_ALL = " \t\n"
_WS = _WS_ALL


class _XmlArguments(SchemaCompiler):
    """Arguments as XML parameters (Qwen3-Coder): a top-level string value is raw text (no
    quotes, no escapes; it cannot hold ``<``, which would open the closing tag: a recorded
    cap), an enum of strings its raw values; every other value is JSON."""

    def xml_parameters(self, schema: dict, pointer: str, fmt: OutputFormat) -> Node:
        _, param_open, param_close, _ = fmt.xml_parts
        ws = fmt.ws()
        self._raw, self._quote = fmt.raw_value, fmt.xml_quote
        self._root, self._root_pointer = schema, pointer
        # the parameters are generated from `properties`/`required` alone: every other keyword
        # of the arguments object (anyOf, if/then/else, not, dependentRequired, ...) is the
        # validator's
        for kw in schema:
            if kw not in _XML_ROOT_HANDLED:
                self.note_unenforced(f"{pointer}/{kw}", kw, "not expressible in XML parameters; checked by the validator after decoding")
        addl = schema.get("additionalProperties")
        if addl not in (None, False) or ("properties" not in schema and addl is None):
            self.note_cap(pointer, "additionalProperties", "XML parameters: only declared properties are generated")
        # each value carries its own closer, so that raw text and the closer lex as one piece;
        # the whitespace after the closer (before the next parameter) is flexible, bounded
        props = schema.get("properties") or {}
        other = addl if isinstance(addl, dict) else {}

        def key(k: str) -> str:
            # DeepSeek V3.2 marks each value's encoding: string="true" (raw text) or "false" (JSON)
            return param_open.format(key=k, string="true" if self._raw(props.get(k, other)) else "false")

        if self._quote:  # FunctionGemma: a key is written bare, so it cannot hold the syntax
            bad = [k for k in props if not re.fullmatch(r"[^\s:,{}\[\]<>]+", k)]
            if bad:
                raise SchemaError([Problem(f"{pointer}/properties/{k}", f"the {fmt.name} format writes argument names bare: "
                                           f"{k!r} holds a space or one of : , {{ }} [ ] < >") for k in bad])
        closer = param_close.rstrip(_WS_ALL)
        self._param_close = (closer, ws if closer != param_close else None)
        try:
            return self.properties_body(schema, pointer, 0, key=key, sep=fmt.xml_separator)
        finally:
            self._param_close = None

    _raw = staticmethod(xml_raw_value)
    _quote = ""

    _param_close: tuple[str, Node | None] | None = None

    def value(self, schema, pointer: str, depth: int = 0) -> Node:
        if depth == 1 and self._param_close is not None:
            closer, after = self._param_close
            node = seq(self._top_value(schema, pointer), *([Lit(closer)] if closer else []))
            return node if after is None else seq(node, after)
        return super().value(schema, pointer, depth)

    def _top_value(self, schema, pointer: str) -> Node:
        if not self._raw(schema):
            if self._quote and not _bare_scalar(schema):
                raise SchemaError([Problem(pointer, "this format writes objects, arrays and mixed values in a notation of "
                                           "its own (bare keys, <escape> strings), which structcall does not generate: "
                                           "its arguments must be strings, numbers, integers or booleans")])
            return super().value(schema, pointer, 1)
        q = self._quote
        values = [schema["const"]] if "const" in schema else schema.get("enum")
        if values:
            return alt(*[Lit(q + v + q) for v in values])
        if q:
            return seq(Lit(q), self._raw_text(schema, pointer), Lit(q))
        return self._raw_text(schema, pointer)

    def _raw_text(self, schema, pointer: str) -> Node:
        cap = self.limits.max_string_length
        rx = FORMAT_REGEXES.get(schema.get("format")) if "pattern" not in schema else None
        if rx is not None:  # a known format: its regex, as raw text (no quotes, '<' or escapes in any)
            if "%(cap)d" in rx:
                self.note_cap(pointer, "format", f"{schema['format']} limited to about {cap} characters")
            if "minLength" in schema or "maxLength" in schema:
                self.note_unenforced(pointer, "maxLength" if "maxLength" in schema else "minLength",
                                     f"length together with format {schema['format']!r} is checked by the validator")
            if schema["format"] in ("date", "date-time"):
                self.note_unenforced(f"{pointer}/format", "format", "the grammar enforces the shape; calendar validity (e.g. no Feb 30) is checked by the validator")
            return PatternCompiler(cap).compile("^" + rx.replace("%(cap)d", str(cap)) + "$")
        lo, hi = int(schema.get("minLength", 0) or 0), schema.get("maxLength")
        self.note_cap(pointer, "maxLength", f"XML parameter text holds no '<'{'' if hi is not None else f', at most {max(cap, lo)} characters'}")
        for kw in ("pattern", "format"):
            if kw in schema:
                self.note_unenforced(f"{pointer}/{kw}", kw, "raw XML parameter text: checked by the validator")
        return Rep(_RAW_CHAR, lo, int(hi) if hi is not None else max(cap, lo))


def _bare_scalar(schema) -> bool:
    """A number, integer or boolean (or an enum of them): written the same in JSON and in
    FunctionGemma's notation."""
    if not isinstance(schema, dict) or any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref", "not", "if")):
        return False
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if values:
        return all(isinstance(v, (int, float)) for v in values)
    return schema.get("type") in ("integer", "number", "boolean")


def _strip_prefix(g: Grammar, node: Node, prefix: str, depth: int = 0) -> Node:
    """The node for what follows `prefix` in `node`'s language (for nodes whose every string
    starts with `prefix`, like a call section after its trigger)."""
    if depth > 20:
        raise ValueError("internal: cannot strip the trigger from the call grammar")
    if not prefix:
        return node
    if isinstance(node, Lit):
        if node.text.startswith(prefix):
            return Lit(node.text[len(prefix):])
        if prefix.startswith(node.text):
            return Seq(())  # fully consumed, caller continues
        raise ValueError(f"internal: call section does not start with the trigger {prefix!r}")
    if isinstance(node, Ref):
        return _strip_prefix(g, g.rules[node.name], prefix, depth + 1)
    if isinstance(node, Alt):
        return alt(*[_strip_prefix(g, i, prefix, depth + 1) for i in node.items])
    if isinstance(node, Rep) and node.min >= 1:
        rest = Rep(node.item, node.min - 1, None if node.max is None else node.max - 1)
        return seq(_strip_prefix(g, node.item, prefix, depth + 1), rest)
    if isinstance(node, Seq) and node.items:
        first = node.items[0]
        if isinstance(first, Lit) and len(first.text) < len(prefix) and prefix.startswith(first.text):
            return _strip_prefix(g, Seq(node.items[1:]), prefix[len(first.text):], depth + 1)
        return seq(_strip_prefix(g, first, prefix, depth + 1), *node.items[1:])
    raise ValueError(f"internal: cannot strip {prefix!r} from {type(node).__name__}")


def _build(specs: list[ToolSpec], fmt: OutputFormat, choice: ToolChoice, parallel: bool, max_calls: int, strict: bool,
           limits: Limits, allow_think: bool, max_calls_given: bool) -> tuple[Grammar, list, list]:
    g = Grammar(start="start")
    syntax = "python" if fmt.body == "python" else "json"
    comp = (_XmlArguments if fmt.body == "xml" else SchemaCompiler)(g, syntax=syntax, limits=limits, strict=strict)
    allowed = [s for s in specs if s.name == choice.name] if choice.named else specs
    problems: list[Problem] = []
    calls: list[Node] = []
    if choice.mode != "none":
        if not allowed:
            raise ValueError(f"tool_choice={str(choice)!r} needs at least one tool, and none was given")
        for spec in allowed:
            try:
                # the grammar's name, and the tool's own dotted name as BFCL writes it
                # (`math.factorial`), which the parser maps back to the same tool
                names = [spec.name]
                if spec.original_name != spec.name and (
                        fmt.body != "python" or all(is_identifier(p) for p in spec.original_name.split("."))):
                    names.append(spec.original_name)
                if fmt.body == "xml":
                    fn_open, _, _, fn_close = fmt.xml_parts
                    body = comp.xml_parameters(spec.parameters, spec.pointer, fmt)
                    # the newline after the function's opener is flexible (bounded), as the
                    # one after each parameter
                    # in a section, the calls' common start is the format's (`xml_head`)
                    skip = 0 if fmt.call_open else len(fmt.xml_head())
                    head = alt(*[Lit(fmt.fn_open(n).rstrip(_WS)[skip:]) for n in names])
                    if fn_open.rstrip(_WS) != fn_open:
                        head = seq(head, fmt.ws())
                    node = seq(head, body, Lit(fn_close)) if fn_close else seq(head, body)
                elif fmt.call_template:
                    pre, mid, post = fmt.call_parts()
                    idx = fmt.index_parts()
                    # the call's number (Kimi K2: `functions.NAME:0`), then bounded whitespace
                    between = Lit(mid) if idx is None else seq(
                        Lit(idx[0]), Rep(Chars.of([(48, 57)]), 1, 4), fmt.ws(), Lit(idx[1]))
                    node = seq(alt(*[Lit(n) for n in names]), between,  # `pre` is the format's
                               comp.compile_root(spec.parameters, spec.pointer), Lit(post))
                elif fmt.body == "python":
                    if not is_identifier(spec.name):
                        raise SchemaError([Problem(spec.pointer.rsplit("/parameters", 1)[0] + "/name", f"tool name {spec.name!r} is not a Python identifier, so the pythonic format cannot call it")])
                    node = seq(alt(*[Lit(n) for n in names]), Lit("("), comp.compile_kwargs(spec.parameters, spec.pointer), Lit(")"))
                else:
                    # canonical ", " / ": ", or compact "," / ":" (json.dumps(separators=(",", ":")))
                    colon, comma = alt(Lit(": "), Lit(":")), alt(Lit(", "), Lit(","))
                    name = alt(*[Lit(json.dumps(n, ensure_ascii=False)) for n in names])
                    node = seq(Lit("{" + json.dumps(fmt.name_key)), colon, name, comma, Lit(json.dumps(fmt.arguments_key)), colon,
                               comp.compile_root(spec.parameters, spec.pointer), Lit("}"))
            except SchemaError as e:
                problems.extend(e.problems)
                continue
            calls.append(node)
    if problems:
        raise SchemaError(problems)
    for name, node in fmt.rules(max_calls).items():
        g.rules[name] = node
    if choice.mode == "none":
        g.rules.pop("calls_one"), g.rules.pop("calls_many")
    else:
        g.rules["call"] = alt(*calls)
    # a named tool_choice forces exactly one call of that tool (as OpenAI's API does)
    many = parallel and max_calls > 1 and not choice.named and not fmt.single_call
    calls_ref = Ref("calls_many" if many else "calls_one")
    if fmt.trigger:
        text_only = FreeText(fmt.trigger)
    else:
        text_only = not_opener_text(fmt.opener or "")
    no_call = fmt.no_call_node()
    if no_call is not None:  # the format's own "no call" (an empty list), then the end
        text_only = alt(text_only, seq(no_call, fmt.tail()))
    # after the last call: a short bounded run of whitespace, then the end (never a forced
    # further call: another call needs its full opener)
    calls_then_end = seq(calls_ref, fmt.tail())
    if choice.mode == "none":
        body: Node = text_only
    elif choice.mode != "auto":
        body = calls_then_end
    elif fmt.trigger and fmt.text_before_call:
        after = _strip_prefix(g, calls_ref, fmt.trigger)
        body = alt(text_only, seq(FreeText(fmt.trigger), Lit(fmt.trigger), after, fmt.tail()))
    else:
        body = alt(text_only, calls_then_end)
    if allow_think:
        think = seq(Lit("<think>"), FreeText("</think>"), Lit("</think>"), Rep(Lit("\n"), 0, 2))
        body = seq(Rep(think, 0, 1), body)
    g.rules["start"] = body
    capped = list(comp.capped)
    if parallel and choice.mode in ("auto", "required") and not max_calls_given:
        capped.append(SchemaNote("", "max_calls", f"at most {max_calls} parallel calls (default cap)"))
    g.reachable()  # every referenced rule is defined
    return g, comp.unenforced, capped


def compile_tools(
    tools,
    *,
    format: str = "hermes",
    tool_choice="auto",
    parallel_tool_calls: bool = True,
    max_calls: int | None = None,
    strict: bool = False,
    allow_think: bool = False,
    limits: Limits | None = None,
) -> "ToolGrammar":
    """Compile tools into the grammar of every valid output.

    Args:
        tools: OpenAI Chat or Responses tool dicts, bare function docs (BFCL too), pydantic
            models, callables or `ToolSpec`s (see `structcall.tools`).
        format: output format, one of `structcall.formats.FORMATS`.
        tool_choice: "auto" (text or calls; text before the call where the format allows it),
            "required" (at least one call), "none" (text only), or a function name /
            ``{"type": "function", "function": {"name": ...}}`` (exactly one call of it).
            With no tools, "auto" is text only ("none"); "required" raises ValueError.
        parallel_tool_calls: False admits exactly one call (the grammar enforces it).
        max_calls: cap on parallel calls (default `DEFAULT_MAX_CALLS`, reported in `capped`).
        strict: raise `UnsupportedSchemaError` for a keyword the grammar cannot express
            instead of listing it in `ToolGrammar.unenforced`.
        allow_think: admit a leading ``<think>...</think>`` block (reasoning models).
        limits: caps for unbounded strings, numbers, arrays and free-form values.
    """
    fmt = load_format(check_format(format))
    raw_key = _raw_key(tools, fmt.name, tool_choice, parallel_tool_calls, max_calls, strict, allow_think, limits)
    if raw_key is not None:
        with _cache_lock:
            hit = _raw_cache.get(raw_key)
            if hit is not None:
                _raw_cache.move_to_end(raw_key)
                _stats["hits"] += 1
        if hit is not None:
            specs, choice, n_calls, compiled = hit
            return ToolGrammar(specs, fmt, choice, bool(parallel_tool_calls), n_calls, bool(allow_think), compiled)
    specs = normalize_tools(tools)
    choice = normalize_tool_choice(tool_choice, specs)
    if max_calls is not None and (not isinstance(max_calls, int) or isinstance(max_calls, bool) or max_calls < 1):
        raise ValueError(f"max_calls must be a positive integer, got {max_calls!r}")
    limits = limits or Limits()
    n_calls = 1 if not parallel_tool_calls else (max_calls or DEFAULT_MAX_CALLS)
    options = {
        "v": _VERSION,
        "format": fmt.name,
        "tool_choice": choice.key(),
        "parallel": bool(parallel_tool_calls),
        "max_calls": n_calls,
        "max_calls_given": max_calls is not None,
        "strict": bool(strict),
        "allow_think": bool(allow_think),
        "limits": asdict(limits),
        "tools": [s.signature() | {"pointer": s.pointer} for s in specs],
    }
    key = hashlib.sha256(json.dumps(options, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            _stats["hits"] += 1
    if hit is None:
        g, unenforced, capped = _build(specs, fmt, choice, bool(parallel_tool_calls), n_calls, bool(strict), limits, bool(allow_think), max_calls is not None)
        hit = _Compiled(g, tuple(unenforced), tuple(capped), key, bool(strict), limits)
        with _cache_lock:
            _stats["misses"] += 1
            _cache[key] = hit
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if raw_key is not None:
        with _cache_lock:
            _raw_cache[raw_key] = (specs, choice, n_calls, hit)
            while len(_raw_cache) > _CACHE_SIZE:
                _raw_cache.popitem(last=False)
    return ToolGrammar(specs, fmt, choice, bool(parallel_tool_calls), n_calls, bool(allow_think), hit)


def _raw_key(tools, fmt, tool_choice, parallel, max_calls, strict, allow_think, limits):
    """A cache key straight from JSON-able input (dict tools), so that a repeated compile skips
    normalisation; None for inputs that hold Python objects (callables, models)."""
    if not isinstance(tools, (list, tuple)) or not all(isinstance(t, dict) for t in tools):
        return None
    try:  # pickle is ~5x faster than json.dumps here; a different key order only costs a miss
        return pickle.dumps((_VERSION, tools, fmt, tool_choice, parallel, max_calls, strict, allow_think, limits), protocol=5)
    except (TypeError, ValueError, pickle.PicklingError, AttributeError, RecursionError):
        return None


class ToolGrammar:
    """The grammar of every valid output for a set of tools and options.

    Dialects (all rendered from one IR, `ir`): `lark()` for the `lark` package (used by
    `accepts`), `llguidance()`, `gbnf()` (xgrammar EBNF) and `regex()` (outlines-core; only for
    non-recursive grammars). `unenforced` lists schema keywords the validator checks after
    decoding; `capped` lists default caps the grammar adds.
    """

    def __init__(self, specs, fmt: OutputFormat, choice: ToolChoice, parallel: bool, max_calls: int, allow_think: bool, compiled: _Compiled):
        self.specs: list[ToolSpec] = specs
        self.output_format = fmt
        self.format: str = fmt.name
        self.choice: ToolChoice = choice
        #: the tool choice as a string: the mode, or the chosen tool's name (display only:
        #: a tool may be called "none"; test `choice` for the mode)
        self.tool_choice: str = str(choice)
        self.parallel_tool_calls = parallel
        self.max_calls = max_calls
        self.allow_think = allow_think
        self._c = compiled

    # -- facts the decoder needs
    @property
    def trigger(self) -> str | None:
        return self.output_format.trigger

    @property
    def text_before_call(self) -> bool:
        return self.output_format.text_before_call and self.choice.mode == "auto"

    @property
    def allows_text(self) -> bool:
        """Whether a plain-text (no call) answer is in the grammar."""
        return self.choice.allows_text

    @property
    def requires_call(self) -> bool:
        return self.choice.requires_call

    @property
    def ir(self) -> Grammar:
        return self._c.grammar

    @property
    def unenforced(self) -> list[SchemaNote]:
        return list(self._c.unenforced)

    @property
    def capped(self) -> list[SchemaNote]:
        return list(self._c.capped)

    @property
    def strict(self) -> bool:
        """Whether it was compiled with ``strict=True``."""
        return self._c.strict

    @property
    def limits(self) -> Limits:
        """The `Limits` it was compiled with."""
        return self._c.limits

    @property
    def cache_key(self) -> str:
        return self._c.key

    # -- dialects
    def _text(self, name: str, fn):
        c = self._c
        with c.lock:
            if name not in c.texts:
                c.texts[name] = fn(c.grammar)
            return c.texts[name]

    def lark(self) -> str:
        """Lark grammar (the `lark` package's dialect, Python regex terminals); start rule `start`."""
        return self._text("lark", to_lark)

    def llguidance(self) -> str:
        """Grammar in llguidance's Lark dialect (for `llguidance.LLMatcher`)."""
        return self._text("llguidance", to_llguidance)

    def gbnf(self) -> str:
        """Grammar in xgrammar's EBNF; root rule `root`."""
        return self._text("gbnf", to_gbnf)

    def regex(self) -> str:
        """The grammar as one regex (Rust/outlines-core syntax). Raises `UnsupportedSchemaError`
        when the grammar is recursive."""
        return self._text("regex", to_regex)

    def _parser(self):
        c = self._c
        with c.lock:
            p = c.texts.get("_lark_parser")
        if p is None:
            import lark

            p = lark.Lark(self.lark(), start="start", parser="earley", lexer="dynamic")
            with c.lock:
                c.texts["_lark_parser"] = p
        return p

    def accepts(self, text: str) -> bool:
        """Whether `text`, as a complete output, is in the grammar (character level, by lark's
        Earley parser over `lark()`)."""
        import lark

        if not isinstance(text, str):
            raise TypeError(f"accepts() takes a str, got {type(text).__name__}")
        if text == "":
            return _nullable_start(self._c.grammar)
        try:
            self._parser().parse(text)
            return True
        except lark.exceptions.LarkError:
            return False

    def describe(self) -> str:
        lines = [
            f"format={self.format} tool_choice={self.tool_choice} parallel={self.parallel_tool_calls} "
            f"max_calls={self.max_calls} tools={len(self.specs)} rules={len(self.ir.rules)}"
        ]
        for n in self.unenforced:
            lines.append(f"unenforced {n}")
        for n in self.capped:
            lines.append(f"capped     {n}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ToolGrammar {self.format} tool_choice={self.tool_choice!r} tools={len(self.specs)} key={self.cache_key[:12]}>"


def _nullable_start(g: Grammar) -> bool:
    from .grammar import nullable

    return nullable(Ref(g.start), g)
