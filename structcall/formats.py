"""Output formats as data: one `OutputFormat` entry per way a model family writes tool calls.

Each entry holds everything about a format - the envelope strings, the separator between
calls, how arguments are encoded (JSON, Python literals), the trigger that opens the call
section in free text, how "no call" is written, the system-prompt paragraph that teaches it
and the chat-template markers that identify it. The grammar builder (`OutputFormat.rules`),
the renderer (`structcall.render`), the parser (`structcall.parse`), the streaming splitter
(`structcall.decoding.stream`), the prompt builder (`structcall.decoding.prompt`) and the vLLM
plugin all read these entries; no other place writes an envelope down. Adding a format is one
entry in `_ENTRIES` plus its accept/reject table in the tests.

The grammar admits a short bounded run of whitespace (``max_ws`` characters of space, tab or
newline) wherever real models put it around the envelope: inside a call's tags, around
separators and after the last call, which is followed only by the end of the output. A
separator never forces another call: a further call needs its full opener.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .grammar import Chars, Lit, Node, Ref, Rep, alt, seq

__all__ = ["OutputFormat", "FORMATS", "load_format", "detect_format", "check_format", "format_table"]

_WS_CHARS = " \t\n"


@dataclass(frozen=True)
class OutputFormat:
    """One output format.

    A call section is ``section_open`` + calls joined by ``separator`` + ``section_close``;
    each call is ``call_open`` + body + ``call_close``. The strings are the canonical
    rendering; the grammar also admits up to ``max_ws`` whitespace characters around every
    envelope piece (the separator's own spaces included).

    Attributes:
        name: the format's name (``format=`` everywhere).
        families: the model families that write it (documentation).
        body: ``"json"`` (a ``{name_key: ..., arguments_key: {...}}`` object per call) or
            ``"python"`` (``name(k=v, ...)`` with Python literals).
        section_open, section_close: text around all the calls ("" for none).
        call_open, call_close: text around each call ("" for none).
        separator: canonical text between two calls.
        name_key, arguments_key: the keys of a JSON call object.
        trigger: text that opens the call section wherever it appears (None: the calls must
            start the output, with one of `opener`'s characters).
        text_before_call: whether free text may precede the call section (tool_choice="auto").
        bare_single: one call may also be written without the section envelope (json).
        call_template: a call written around its name and its JSON arguments object, with
            ``{name}`` and ``{arguments}`` marking them (DeepSeek, gpt-oss), and ``{index}``
            the call's number counted from 0 (Kimi K2); None: a
            ``{name_key: ..., arguments_key: ...}`` object (or a Python call).
        xml_parts: for ``body="xml"``: (function opener with ``{name}``, parameter opener
            with ``{key}`` and optionally ``{string}`` - "true" for a raw text value, "false"
            for JSON -, parameter closer, function closer); a string argument is raw text,
            any other value JSON. The newline ending the function opener and each parameter
            closer is flexible (bounded) whitespace in the grammar.
        xml_separator: for ``body="xml"``: the text between two parameters (FunctionGemma ",").
        xml_quote: for ``body="xml"``: text values are written between two of these
            (FunctionGemma ``<escape>``); then every string argument is text, and an argument
            whose value is not a string, number or boolean is rejected (the format writes
            objects and arrays in a notation of its own, which the grammar does not generate).
        single_call: the format has no way to write parallel calls (one call per message).
        no_call: the in-format way to say "no call" (e.g. an empty list), or None.
        instructions: the system-prompt paragraph that teaches the format (``{parallel}``
            becomes `parallel_hint` when parallel calls are allowed, else ".").
        system_prompt: a complete tool system prompt of the family's own (``{tools}`` is the
            JSON list of tools), replacing structcall's default one; None: the default.
        detect: regexes; a chat template matching any of them writes this format.
        max_ws: the bound on each run of flexible whitespace.
    """

    name: str
    families: str
    body: str
    section_open: str
    section_close: str
    call_open: str = ""
    call_close: str = ""
    separator: str = ", "
    name_key: str = "name"
    arguments_key: str | None = "arguments"
    trigger: str | None = None
    text_before_call: bool = False
    bare_single: bool = False
    call_template: str | None = None
    xml_parts: tuple[str, str, str, str] | None = None
    xml_separator: str = ""
    xml_quote: str = ""
    single_call: bool = False
    no_call: str | None = None
    instructions: str = ""
    parallel_hint: str = ""
    system_prompt: str | None = None
    detect: tuple[str, ...] = ()
    max_ws: int = 4
    description: str = field(default="", compare=False)

    # -- derived facts
    @property
    def opener(self) -> str | None:
        """Characters a call section can start with, for formats without a trigger."""
        if self.trigger:
            return None
        first = (self.section_open or self.call_open or self.call_template or "")[:1]
        chars = first
        if (self.bare_single or not first) and self.body == "json":
            chars += "{"
        return "".join(dict.fromkeys(chars)) or None

    @property
    def end_chars(self) -> str:
        """The last characters a complete call section can end with (before trailing
        whitespace): where a streamed prefix is worth parsing."""
        last = self.section_close or self.call_close or (self.call_parts()[2] if self.call_template else "")
        ends = {last[-1:]}
        if self.bare_single or not last:
            ends.add("}" if self.body == "json" else ")")
        return "".join(sorted(e for e in ends if e))

    def call_parts(self) -> tuple[str, str, str]:
        """`call_template` split around its name and arguments: (before, between, after)."""
        t = self.call_template or ""
        pre, rest = t.split("{name}", 1)
        mid, post = rest.split("{arguments}", 1)
        return pre, mid, post

    def index_parts(self) -> tuple[str, str] | None:
        """For a `call_template` whose name is followed by the call's number (``{index}``,
        Kimi K2's ``functions.NAME:0``): the text between the name and the arguments split
        around the number; None for templates without one."""
        mid = self.call_parts()[1]
        if "{index}" not in mid:
            return None
        a, b = mid.split("{index}", 1)
        return a, b

    def call_mid(self, index: int) -> str:
        """The text between a call's name and its arguments, for call number `index`."""
        mid = self.call_parts()[1]
        return mid.replace("{index}", str(index))

    def ws(self) -> Node:
        """A bounded run of flexible whitespace (possibly empty)."""
        return Rep(Chars.of([(ord(c), ord(c)) for c in _WS_CHARS]), 0, self.max_ws)

    def _one(self) -> Node:
        ws = self.ws()
        if self.call_template:
            # the opening text belongs here, not to `call`: whitespace before it then lexes
            # as one piece with it (a lexer would otherwise have to choose between a
            # separator and the section's closer)
            return seq(Lit(self.call_parts()[0]), Ref("call"))
        if self.call_open or self.call_close:
            close = self.call_close.strip()  # GLM's closing tag is its call's own (`xml_parts`)
            return seq(Lit(self.call_open.strip()), ws, Ref("call"), *([ws, Lit(close)] if close else []))
        if self.xml_parts:  # the common start of every call, here for the same reason
            return seq(Lit(self.xml_head()), Ref("call"))
        return Ref("call")

    def raw_value(self, schema) -> bool:
        """Whether an argument with this schema is written as text (see `xml_raw_value`);
        with `xml_quote`, every string argument is."""
        if self.xml_quote and isinstance(schema, dict):
            values = [schema["const"]] if "const" in schema else schema.get("enum")
            if values:
                return all(isinstance(v, str) for v in values) and "<" not in "".join(values)
            return schema.get("type") == "string" and not any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref", "not"))
        return xml_raw_value(schema)

    def fn_open(self, name: str) -> str:
        """The XML function opener for `name`."""
        return (self.xml_parts or ("",))[0].replace("{name}", name)

    def xml_head(self) -> str:
        """The text every XML call starts with (its function opener before the name)."""
        return (self.xml_parts or ("",))[0].split("{name}")[0]

    def _section(self, max_calls: int) -> Node:
        ws = self.ws()
        one = self._one()
        sep = self.separator.strip()
        between = seq(ws, Lit(sep), ws) if sep else ws
        more = Rep(seq(between, one), 0, max(0, max_calls - 1))
        parts = [Lit(self.section_open.strip())]
        if self.section_open:
            parts.append(ws)
        parts += [one, more]
        if self.section_close:
            parts += [ws, Lit(self.section_close.strip())]
        return seq(*parts)

    def rules(self, max_calls: int) -> dict[str, Node]:
        """Grammar rules ``calls_one`` (exactly one call) and ``calls_many`` (1..max_calls
        calls), in terms of ``call`` (one call body, supplied by the compiler)."""
        if self.single_call:
            max_calls = 1
        if self.bare_single:
            one: Node = self._one()
            many = alt(one, self._section(max_calls)) if max_calls > 1 else one
        else:
            one = self._section(1)
            many = self._section(max_calls)
        return {"calls_one": one, "calls_many": many}

    def tail(self) -> Node:
        """What may follow the last call: bounded whitespace, then the end."""
        return self.ws()

    def no_call_node(self) -> Node | None:
        return None if self.no_call is None else Lit(self.no_call)

    def wrap(self, bodies: list[str]) -> str:
        """Canonical text of a call section holding `bodies` (each one call's body)."""
        if len(bodies) == 1 and self.bare_single:
            return bodies[0]
        calls = [self.call_open + b + self.call_close for b in bodies]
        return self.section_open + self.separator.join(calls) + self.section_close


_JSON_HOW = '{"name": <function-name>, "arguments": <args-json-object>}'

_ENTRIES = [
    OutputFormat(
        name="json",
        families="any model prompted for JSON (fallback)",
        body="json", section_open="[", section_close="]", bare_single=True,
        instructions=(
            f"To call a function, answer with only a JSON object {_JSON_HOW}{{parallel}}"
        ),
        parallel_hint=", or a JSON array of such objects to make several calls.",
        description="One JSON object per call; several calls as a JSON array of them.",
    ),
    OutputFormat(
        name="hermes",
        families="Hermes 2 Pro / 3, Qwen2.5, Qwen3, other ChatML models",
        body="json", section_open="", section_close="", call_open="<tool_call>\n", call_close="\n</tool_call>",
        separator="\n", trigger="<tool_call>", text_before_call=True,
        instructions=(
            "For each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n<tool_call>\n" + _JSON_HOW + "\n</tool_call>"
        ),
        detect=(r"<tool_call>(?!\[)",),
        description="Each call a JSON object in its own <tool_call> block; text may come first.",
    ),
    OutputFormat(
        name="pythonic",
        families="Llama 3.2 / 3.3 / 4 (pythonic), BFCL's Python answers",
        body="python", section_open="[", section_close="]",
        instructions=(
            "To call functions, answer with only a Python list of calls with keyword arguments: "
            "[func_name1(param1=value1, param2=value2), func_name2(param=value)]"
        ),
        detect=(r"\[func_name1?\(", r"pythonic"),
        description="A Python list of calls with keyword arguments and Python literal values.",
    ),
    OutputFormat(
        name="mistral",
        families="Mistral 7B v0.3, Mixtral, Mistral Nemo / Small (pre-v11 tokenizers)",
        body="json", section_open="[TOOL_CALLS][", section_close="]", trigger="[TOOL_CALLS]",
        instructions=(
            "To call functions, answer with [TOOL_CALLS] followed by a JSON array of "
            f"{_JSON_HOW} objects."
        ),
        detect=(r"\[TOOL_CALLS\]",),
        description="The [TOOL_CALLS] marker, then a JSON array of call objects.",
    ),
    OutputFormat(
        name="llama3_json",
        families="Llama 3.1 / 3.2 / 3.3 (JSON tool calling)",
        body="json", section_open="", section_close="", separator="; ", arguments_key="parameters",
        instructions=(
            'To call a function, respond with only a JSON object {"name": <function-name>, '
            '"parameters": <args-json-object>}{parallel}'
        ),
        parallel_hint="; to make several calls, separate the objects with '; '.",
        detect=(r'"parameters": dictionary of argument name',),
        description='Llama 3.1+: {"name": ..., "parameters": {...}}; several calls joined by "; ".',
    ),
    OutputFormat(
        name="deepseek_v3",
        families="DeepSeek V3 / R1 (0528)",
        body="json", section_open="<｜tool▁calls▁begin｜>", section_close="<｜tool▁calls▁end｜>", separator="\n",
        call_template="<｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n{arguments}\n```<｜tool▁call▁end｜>",
        trigger="<｜tool▁calls▁begin｜>", text_before_call=True,
        instructions=(
            "To call functions, write <｜tool▁calls▁begin｜>, then for each call <｜tool▁call▁begin｜>function"
            "<｜tool▁sep｜>NAME followed by a ```json block holding its arguments and <｜tool▁call▁end｜>, "
            "then <｜tool▁calls▁end｜>."
        ),
        detect=(r"tool▁sep｜>'\s*\+\s*tool\['function'\]\['name'\]",),
        description="DeepSeek V3: each call `function<｜tool▁sep｜>name` then a ```json arguments block.",
    ),
    OutputFormat(
        name="deepseek_v31",
        families="DeepSeek V3.1 / V3.2-Exp (chat)",
        body="json", section_open="<｜tool▁calls▁begin｜>", section_close="<｜tool▁calls▁end｜>", separator="",
        call_template="<｜tool▁call▁begin｜>{name}<｜tool▁sep｜>{arguments}<｜tool▁call▁end｜>",
        trigger="<｜tool▁calls▁begin｜>", text_before_call=True,
        instructions=(
            "To call functions, write <｜tool▁calls▁begin｜>, then for each call <｜tool▁call▁begin｜>NAME"
            "<｜tool▁sep｜>ARGUMENTS-JSON<｜tool▁call▁end｜>, then <｜tool▁calls▁end｜>."
        ),
        detect=(r"\['name'\]\s*\+\s*'<｜tool▁sep｜>'",),
        description="DeepSeek V3.1: <｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}<｜tool▁call▁end｜>.",
    ),
    OutputFormat(
        name="harmony",
        families="gpt-oss (OpenAI harmony)",
        body="json", section_open="", section_close="", separator="",
        call_template="<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{arguments}<|call|>",
        trigger="<|channel|>commentary to=functions.", text_before_call=True, single_call=True,
        instructions=(
            "To call a function, write <|channel|>commentary to=functions.NAME <|constrain|>json<|message|>"
            "ARGUMENTS-JSON<|call|> (one call per message)."
        ),
        detect=(r"<\|constrain\|>", r"<\|channel\|>"),
        description="gpt-oss harmony: a commentary message to=functions.name with JSON arguments, ending <|call|>.",
    ),
    OutputFormat(
        name="qwen3_coder",
        families="Qwen3-Coder, Qwen3.5 (XML tool calls)",
        body="xml", section_open="", section_close="", call_open="<tool_call>\n", call_close="\n</tool_call>",
        separator="\n", arguments_key=None, trigger="<tool_call>", text_before_call=True,
        xml_parts=("<function={name}>\n", "<parameter={key}>\n", "\n</parameter>\n", "</function>"),
        instructions=(
            "For each function call, write:\n<tool_call>\n<function=NAME>\n<parameter=ARGUMENT>\nVALUE\n"
            "</parameter>\n</function>\n</tool_call>\n(one <parameter> block per argument; text values as they "
            "are, other values as JSON)"
        ),
        detect=(r"<function=", r"<parameter="),
        description="Qwen3-Coder XML: <function=name> with one <parameter=key> block per argument.",
    ),
    OutputFormat(
        # moonshotai/Kimi-K2-Thinking chat template (ggml-org/llama.cpp
        # models/templates/moonshotai-Kimi-K2-Thinking.jinja, render_toolcalls) and xgrammar's
        # builtin "kimi" structural tag (mlc-ai/xgrammar python/xgrammar/builtin_structural_tag.py):
        # each call's id is functions.NAME:NUMBER, then its JSON arguments
        name="kimi_k2",
        families="Kimi K2 / K2.5 (Moonshot AI)",
        body="json", section_open="<|tool_calls_section_begin|>", section_close="<|tool_calls_section_end|>", separator="",
        call_template="<|tool_call_begin|>functions.{name}:{index}<|tool_call_argument_begin|>{arguments}<|tool_call_end|>",
        trigger="<|tool_calls_section_begin|>", text_before_call=True,
        instructions=(
            "To call functions, write <|tool_calls_section_begin|>, then for each call <|tool_call_begin|>functions.NAME:N"
            "<|tool_call_argument_begin|>ARGUMENTS-JSON<|tool_call_end|> (N counts the calls from 0), then "
            "<|tool_calls_section_end|>."
        ),
        detect=(r"<\|tool_calls_section_begin\|>", r"<\|im_system\|>tool_declare"),
        description="Kimi K2: <|tool_call_begin|>functions.name:0<|tool_call_argument_begin|>{...}<|tool_call_end|> in a section.",
    ),
    OutputFormat(
        # zai-org GLM-4.6 chat template (ggml-org/llama.cpp models/templates/GLM-4.6.jinja) and
        # xgrammar's "glm_4_7" structural tag with its glm_xml parameters
        # (mlc-ai/xgrammar cpp/converter_ext/glm.cc): text values raw, others JSON
        name="glm",
        families="GLM-4.5 / 4.6 / 4.7 / 5 (Z.ai)",
        body="xml", section_open="", section_close="", call_open="<tool_call>", call_close="",
        separator="\n", arguments_key=None, trigger="<tool_call>", text_before_call=True,
        # the closing tag is the call's own: a grammar lexeme then never has to choose between
        # a further parameter and the end of the call
        xml_parts=("{name}\n", "<arg_key>{key}</arg_key>\n<arg_value>", "</arg_value>\n", "</tool_call>"),
        instructions=(
            "For each function call, output the function name and arguments within the following XML format:\n"
            "<tool_call>NAME\n<arg_key>ARGUMENT</arg_key>\n<arg_value>VALUE</arg_value>\n...\n</tool_call>\n"
            "(text values as they are, other values as JSON)"
        ),
        detect=(r"<arg_key>",),
        description="GLM: <tool_call>name, then <arg_key>k</arg_key><arg_value>v</arg_value> pairs.",
    ),
    OutputFormat(
        # MiniMax-M2 chat template (ggml-org/llama.cpp models/templates/unsloth-MiniMax-M2.jinja)
        # and xgrammar's "minimax" structural tag (cpp/converter_ext/minimax.cc)
        name="minimax_m2",
        families="MiniMax-M2 / M2.5 / M2.7",
        body="xml", section_open="<minimax:tool_call>\n", section_close="\n</minimax:tool_call>", separator="\n",
        arguments_key=None, trigger="<minimax:tool_call>", text_before_call=True,
        xml_parts=('<invoke name="{name}">\n', '<parameter name="{key}">', "</parameter>\n", "</invoke>"),
        instructions=(
            "When making tool calls, use XML format to invoke tools and pass parameters:\n<minimax:tool_call>\n"
            '<invoke name="NAME">\n<parameter name="ARGUMENT">VALUE</parameter>\n...\n</invoke>\n</minimax:tool_call>\n'
            "(text values as they are, other values as JSON)"
        ),
        detect=(r"minimax:tool_call",),
        description='MiniMax-M2: <invoke name="..."> blocks of <parameter name="..."> inside <minimax:tool_call>.',
    ),
    OutputFormat(
        # DeepSeek V3.2 chat template (ggml-org/llama.cpp models/templates/DeepSeek-V3.2.jinja,
        # encode_arguments_to_dsml) and xgrammar's "deepseek_v3_2" structural tag
        # (cpp/converter_ext/deepseek.cc): string="true" marks a raw text value, "false" JSON
        name="deepseek_v32",
        families="DeepSeek V3.2 (DSML)",
        body="xml", section_open="<｜DSML｜function_calls>\n", section_close="\n</｜DSML｜function_calls>",
        separator="\n", arguments_key=None, trigger="<｜DSML｜function_calls>", text_before_call=True,
        xml_parts=('<｜DSML｜invoke name="{name}">\n', '<｜DSML｜parameter name="{key}" string="{string}">',
                   "</｜DSML｜parameter>\n", "</｜DSML｜invoke>"),
        instructions=(
            'To call functions, write a <｜DSML｜function_calls> block:\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="NAME">\n'
            '<｜DSML｜parameter name="ARGUMENT" string="true|false">VALUE</｜DSML｜parameter>\n...\n</｜DSML｜invoke>\n'
            "</｜DSML｜function_calls>\n(string=\"true\" and the text as it is for string values, string=\"false\" and "
            "JSON for the others)"
        ),
        detect=(r"｜DSML｜", r"dsml_token"),
        description='DeepSeek V3.2 DSML: <｜DSML｜invoke name="..."> blocks of typed <｜DSML｜parameter>s.',
    ),
    OutputFormat(
        # google/functiongemma-270m-it: the format as its documentation writes it (ai.google.dev
        # FunctionGemma formatting guide: call:NAME{key:<escape>text<escape>,...}) and vLLM's
        # functiongemma parser tests (vllm-project/vllm tests/tool_parsers/test_functiongemma_tool_parser.py);
        # xgrammar has no built-in tag for it
        name="functiongemma",
        families="FunctionGemma (Gemma 3 270M for function calling)",
        body="xml", section_open="", section_close="", call_open="<start_function_call>", call_close="",
        separator="", arguments_key=None, trigger="<start_function_call>", text_before_call=True,
        xml_parts=("call:{name}{", "{key}:", "", "}<end_function_call>"), xml_separator=",", xml_quote="<escape>",
        instructions=(
            "To call a function, write <start_function_call>call:NAME{ARGUMENT:VALUE,...}<end_function_call> "
            "(text values between <escape> and <escape>, numbers and booleans as they are; several calls one after "
            "the other)"
        ),
        detect=(r"<start_function_call>", r"<start_function_declaration>"),
        description="FunctionGemma: <start_function_call>call:name{key:<escape>text<escape>,n:1}<end_function_call>.",
    ),
    OutputFormat(
        name="smollm2",
        families="SmolLM2-Instruct (135M / 360M / 1.7B)",
        body="json", section_open="<tool_call>[", section_close="]</tool_call>", trigger="<tool_call>",
        no_call="<tool_call>[]</tool_call>",
        # SmolLM2-Instruct's documented tool prompt (HuggingFaceTB/SmolLM2-1.7B-Instruct,
        # instructions_function_calling.md), with the tools as a JSON list
        system_prompt=(
            "You are an expert in composing functions. You are given a question and a set of possible functions. \n"
            "Based on the question, you will need to make one or more function/tool calls to achieve the purpose. \n"
            "If none of the functions can be used, point it out and refuse to answer. \n"
            "If the given question lacks the parameters required by the function, also point it out.\n\n"
            "You have access to the following tools:\n<tools>{tools}</tools>\n\n"
            "The output MUST strictly adhere to the following format, and NO other text MUST be included.\n"
            "The example format is as follows. Please make sure the parameter type is correct. If no function call "
            "is needed, please make the tool calls an empty list '[]'.\n"
            "<tool_call>[\n"
            '{{"name": "func_name1", "arguments": {{"argument1": "value1", "argument2": "value2"}}}},\n'
            "... (more tool calls as required)\n"
            "]</tool_call>"
        ),
        instructions=(
            "To call functions, answer with a JSON list of calls inside one <tool_call></tool_call> block: "
            f"<tool_call>[{_JSON_HOW}, ...]</tool_call>; for no call, <tool_call>[]</tool_call>."
        ),
        detect=(r"SmolLM(?!3)", r"<tool_call>\["),
        description="SmolLM2's own: a JSON list of calls inside one <tool_call> block; [] = no call.",
    ),
]

_BY_NAME = {f.name: f for f in _ENTRIES}

FORMATS = tuple(_BY_NAME)
"""Known output format names."""


def check_format(name) -> str:
    if name not in _BY_NAME:
        hint = difflib.get_close_matches(str(name), FORMATS, n=1)
        raise ValueError(
            f"unknown output format {name!r}; known formats: {', '.join(FORMATS)}"
            + (f". Did you mean {hint[0]!r}?" if hint else "")
        )
    return name


def load_format(name: str) -> OutputFormat:
    """The `OutputFormat` entry named `name`."""
    return _BY_NAME[check_format(name)]


# detection order: the most specific markers first
_DETECT_ORDER = ("smollm2", "functiongemma", "qwen3_coder", "glm", "minimax_m2", "deepseek_v32", "kimi_k2", "mistral", "harmony", "deepseek_v3", "deepseek_v31", "pythonic", "llama3_json", "hermes")


def detect_format(tokenizer_or_template) -> str:
    """Guess the output format from a tokenizer (its chat template and name) or a template
    string: the first format (most specific first) whose `detect` markers match; any other
    ChatML template -> hermes; else json."""
    tpl = tokenizer_or_template
    if not isinstance(tpl, str):
        tok = tokenizer_or_template
        tpl = getattr(tok, "chat_template", None) or ""
        if isinstance(tpl, dict):
            tpl = "\n".join(str(v) for v in tpl.values())
        tpl = f"{tpl}\n{getattr(tok, 'name_or_path', '') or ''}"
    for name in _DETECT_ORDER:
        if any(re.search(rx, tpl) for rx in _BY_NAME[name].detect):
            return name
    if "<|im_start|>" in tpl:
        return "hermes"
    return "json"


def format_table() -> list[tuple[str, str, str]]:
    """(format, model families, detected by) rows, for documentation."""
    return [(f.name, f.families, ", ".join(f.detect) or "default") for f in _ENTRIES]


_XML_RAW_KEYS = {"type", "minLength", "maxLength", "pattern", "format", "description", "title", "default",
                 "examples", "nullable"}


def xml_raw_value(schema) -> bool:
    """Whether an argument with this schema is written as raw text in an XML-parameter format
    (a plain string, or an enum of strings without ``<``); every other value is JSON. The
    grammar, renderer and parser all decide by this."""
    if not isinstance(schema, dict):
        return False
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if values:
        return all(isinstance(v, str) for v in values) and "<" not in "".join(values)
    # a pattern keeps the JSON string, which the grammar enforces exactly
    return schema.get("type") == "string" and set(schema) <= _XML_RAW_KEYS and "pattern" not in schema


_WS = " \t\n\r"


def not_opener_text(opener: str) -> Node:
    """Text whose first non-whitespace character is not in `opener` (may be empty): what a
    plain answer is in formats whose calls start the output."""
    from .grammar import FreeText

    ws = Chars.of([(ord(c), ord(c)) for c in _WS])
    first = Chars.of([(ord(c), ord(c)) for c in opener + _WS], negated=True)
    # leading whitespace is bounded: a weak model must not loop on newlines (no call, no text)
    return alt(Rep(ws, 0, 8), seq(Rep(ws, 0, 8), first, FreeText(None)))
