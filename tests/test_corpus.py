"""The corpus of realistic tool schemas (tests/corpus/): everything compiles in every format,
every sampled output is accepted by all three dialects and validates, and bad tool lists are
rejected with pointers to their problems."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from structcall import SchemaError, ToolCallError, compile_tools, parse_calls
from structcall.formats import FORMATS
from tools_fixtures import expressible
from structcall.testing import check_table, installed_engines, sample
from structcall.tools import normalize_tools

# grammar sweeps over every format and engine: minutes of CPU, so outside `make test-core`/`test-fast`
pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p for p in CORPUS.glob("*.json") if p.name != "many_tools.json")
BAD = sorted((CORPUS / "bad").glob("*.json"))
#: the installed engines besides lark, whose verdict the tests below take first
BACKEND_ENGINES = tuple(e for e in installed_engines() if e != "lark")


def load(p: Path):
    return json.loads(p.read_text(encoding="utf-8"))


def pythonic_ok(spec) -> bool:
    from structcall.schema import is_identifier

    props = spec.parameters.get("properties") or {}
    return is_identifier(spec.name) and all(is_identifier(k) for k in list(props) + list(spec.parameters.get("required") or []))


def test_corpus_is_big_and_varied():
    n = sum(len(load(p)) for p in FILES)
    assert n >= 50, n
    text = " ".join(p.read_text(encoding="utf-8") for p in FILES)
    for feature in ('"patternProperties"', '"dependencies"', '"$schema"', '"$ref"', '"anyOf"', '"oneOf"', '"pattern"', '"format"', '"enum"', '"minItems"', '"additionalProperties"', '"dict"', '"float"', '"prefixItems"'):
        assert feature in text, f"corpus lacks {feature}"
    assert len(load(CORPUS / "many_tools.json")) >= 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_corpus_file_compiles_in_every_format_and_is_sound(path):
    tools = load(path)
    specs = normalize_tools(tools)
    rng = random.Random(path.stem)
    for fmt in FORMATS:
        usable = expressible([s for s in specs if fmt != "pythonic" or pythonic_ok(s)], fmt)
        g = compile_tools(usable, format=fmt)
        for _ in range(4):
            s = sample(g, rng)
            assert g.accepts(s), (fmt, s)
        # soundness per tool, where the grammar enforces everything
        for spec in usable:
            gt = compile_tools([spec], format=fmt, tool_choice="required")
            for _ in range(3):
                s = sample(gt, rng)
                assert gt.accepts(s), (fmt, spec.name, s)
                if fmt == "hermes":
                    assert check_table(gt, [(s, True)], engines=BACKEND_ENGINES) == [], spec.name
                if not gt.unenforced:
                    parse_calls(s, gt)
                elif fmt == "json":
                    # keywords the grammar leaves to the validator may fail, but only there
                    try:
                        parse_calls(s, gt)
                    except ToolCallError as e:
                        kinds = {"value", "missing_argument", "type"}
                        if any(n.keyword in ("patternProperties", "additionalProperties") for n in gt.unenforced):
                            kinds.add("unknown_argument")  # a key pattern the grammar leaves to the validator
                        assert all(k in kinds for k, _, _ in e.errors), e.errors


def test_pythonic_rejects_non_identifier_arguments_clearly():
    for path in FILES:
        for spec in normalize_tools(load(path)):
            if not pythonic_ok(spec):
                with pytest.raises(SchemaError, match="not a Python identifier"):  # noqa: PT012
                    compile_tools([spec], format="pythonic")


def test_unenforced_keywords_in_corpus_are_reported():
    found = set()
    for path in FILES:
        for spec in normalize_tools(load(path)):
            g = compile_tools([spec], format="json")
            found |= {n.keyword for n in g.unenforced}
            for n in g.unenforced:
                assert n.pointer.startswith(spec.pointer), (n, spec.pointer)
    assert {"multipleOf", "uniqueItems"} <= found, found


def test_many_tools_compile_in_every_format():
    # tools with keywords a format's grammar does not enforce are validated after decoding, so
    # leave them out (per format: FunctionGemma's raw text leaves patterns to the validator):
    # this test checks that what the grammar admits validates
    tools = [t for t in load(CORPUS / "many_tools.json") if not compile_tools([t], format="json").unenforced]
    assert len(tools) >= 100
    rng = random.Random(0)
    for fmt in FORMATS:
        usable = [t for t in expressible(tools, fmt) if not compile_tools([t], format=fmt).unenforced]
        assert len(usable) >= 10, (fmt, len(usable))  # FunctionGemma: 13, the JSON formats: all
        g = compile_tools(usable, format=fmt, tool_choice="required")
        for _ in range(5):
            s = sample(g, rng)
            assert g.accepts(s)
            parse_calls(s, g)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_tool_lists_report_every_problem(path):
    case = load(path)
    with pytest.raises(SchemaError) as ei:
        compile_tools(case["tools"])
    pointers = [p.pointer for p in ei.value.problems]
    for want in case["expect"]:
        assert any(want in p for p in pointers), (want, pointers)


# ---------------------------------------------------------------- schemas as written: instances
INSTANCES = sorted((CORPUS / "instances").glob("*.json"))


def _call_text(fmt: str, name: str, args: dict, tools) -> str:
    from structcall.render import render_calls

    return render_calls([(name, args)], fmt, tools=tools)


def _verdict(g, text):
    """(grammar accepts, validator accepts, validator errors)."""
    try:
        parse_calls(text, g)
        ok, errs = True, []
    except ToolCallError as e:
        ok, errs = False, e.errors
    return g.accepts(text), ok, errs


@pytest.mark.parametrize("path", INSTANCES, ids=lambda p: p.stem)
def test_instances_valid_accepted_invalid_rejected(path):
    """Every valid instance is accepted by the grammar (lark, llguidance, xgrammar) and the
    validator; every invalid one is rejected by the grammar or the validator, and where only the
    validator rejects it, the grammar lists what it leaves to the validator in `unenforced`."""
    tools = load(CORPUS / path.name)
    cases = load(path)
    assert set(cases) == {t["function"]["name"] for t in tools}, "every tool of the corpus file has instances"
    for tool in tools:
        name = tool["function"]["name"]
        for fmt in ("json", "hermes"):
            g = compile_tools([tool], format=fmt, tool_choice="required")
            for inst in cases[name]["valid"]:
                text = _call_text(fmt, name, inst, [tool])
                acc, ok, errs = _verdict(g, text)
                assert acc and ok, (name, fmt, inst, acc, errs)
                assert parse_calls(text, g)[0].arguments == inst
                if fmt == "hermes":
                    assert check_table(g, [(text, True)], engines=BACKEND_ENGINES) == [], (name, inst)
            for inst in cases[name]["invalid"]:
                text = _call_text(fmt, name, inst, [tool])
                acc, ok, errs = _verdict(g, text)
                assert not ok, (name, fmt, inst, "an invalid instance passed the validator")
                if acc:
                    assert g.unenforced, (name, inst, "grammar admitted an invalid instance but reports nothing unenforced")
                if fmt == "hermes":
                    assert check_table(g, [(text, acc)], engines=BACKEND_ENGINES) == [], (name, inst)


def test_declared_drafts_agree_with_their_own_validators():
    """Schemas that declare draft 4, 6, 7 or 2019-09 are normalised to 2020-12; each instance
    gets the verdict jsonschema's validator for the declared draft gives the original schema."""
    from jsonschema.validators import validator_for

    tools = {t["function"]["name"]: t for t in load(CORPUS / "drafts.json")}
    cases = load(CORPUS / "instances" / "drafts.json")
    seen = set()
    for name, tool in tools.items():
        schema = tool["function"]["parameters"]
        cls = validator_for(schema, default=None)
        if "$schema" in schema:
            assert cls is not None
            seen.add(cls.__name__)
        g = compile_tools([tool], format="json", tool_choice="required")
        for expected, insts in ((True, cases[name]["valid"]), (False, cases[name]["invalid"])):
            for inst in insts:
                if cls is not None:
                    assert cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(inst) == expected, (name, inst)
                _, ok, errs = _verdict(g, _call_text("json", name, inst, [tool]))
                assert ok == expected, (name, inst, errs)
    assert seen == {"Draft4Validator", "Draft6Validator", "Draft7Validator", "Draft201909Validator"}


def test_open_objects_report_the_closed_default_only_where_the_schema_is_silent():
    tools = {t["function"]["name"]: t for t in load(CORPUS / "open_objects.json")}

    def closed(name):
        g = compile_tools([tools[name]], format="json")
        return sorted(n.pointer for n in g.capped if n.keyword == "additionalProperties")

    assert closed("deploy_service") == []  # additionalProperties: true
    assert closed("tag_resources") == []  # additionalProperties: false: nothing narrowed
    assert closed("set_thresholds") == ["/0/function/parameters/additionalProperties"]  # silent
    g = compile_tools(load(CORPUS / "weather.json"), format="json")
    assert any(n.keyword == "additionalProperties" and "does not say" in n.detail for n in g.capped)


def test_pattern_that_backtracks_catastrophically_is_decided_fast():
    """`^(a+)+$` against 10,000 `a`s and a `!`: Python's re would need longer than the age of
    the universe; RE2 in the validator and the merged repeat in the grammar decide at once."""
    import time

    from structcall import patterns

    tools = [t for t in load(CORPUS / "patterns.json") if t["function"]["name"] in ("nested_plus", "words", "lookaround_nested")]
    bad = "a" * 10_000 + "!"
    t0 = time.perf_counter()
    for tool in tools:
        g = compile_tools([tool], format="json")
        (arg,) = tool["function"]["parameters"]["required"]
        text = _call_text("json", tool["function"]["name"], {arg: bad}, [tool])
        assert not g.accepts(text)
        with pytest.raises(ToolCallError) as ei:
            parse_calls(text, g)
        assert ei.value.kind == "value"
        big = {arg: bad}
        from structcall.parse import validate_arguments

        errs = validate_arguments(g.specs[0], big)
        assert errs and all(k == "value" for k, _, _ in errs)
    assert patterns.search("^(a+)+$", bad) is False
    with pytest.raises(patterns.PatternUndecided):
        patterns.search("^(?=a)(a+)+$", bad)
    print(f"\n[bench] catastrophic patterns, 10,000 characters, 3 tools: {time.perf_counter() - t0:.3f} s")
