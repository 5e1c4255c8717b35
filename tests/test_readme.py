"""The README and the docs/ pages match the code: their Python examples run as written (and print
what the page says they print), their links resolve, and the commands they name exist.

A Python block runs in the default tier unless the line above its fence says otherwise:
``<!-- doctest: slow -->`` or ``<!-- doctest: smollm2 -->`` run it under those markers,
``<!-- doctest: torch -->`` runs it outside the torch-free tier (it loads torch, but quickly), and
``<!-- doctest: compile-only (why) -->`` only compiles it (a fragment, or one that needs a server),
with the reason required. A Python block followed by ``Output:`` and a ``text`` block must print
exactly that text.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

_FENCE_OPEN = re.compile(r"^(\s*)```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*doctest:\s*(slow|smollm2|torch|compile-only)\s*(?:\((.*)\))?\s*-->$")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None = None
    reason: str = ""
    output: str | None = None  # the text block after "Output:", if any

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        assert j < len(lines), f"{path.name}:{i + 1}: code block never closed"
        code = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1: j])
        b = Block(path, i + 1, lang, code + "\n")
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        if k >= 0 and lines[k].lstrip().startswith("<!-- doctest"):
            mm = _MARKER.match(lines[k].strip())
            assert mm, f"{path.name}:{k + 1}: unknown doctest marker {lines[k].strip()!r}"
            b.marker, b.reason = mm.group(1), (mm.group(2) or "").strip()
        if blocks and blocks[-1].lang == "python":
            between = [ln.strip() for ln in lines[blocks[-1].line: i] if ln.strip()]
            if between[-2:] == ["```", "Output:"]:
                assert lang == "text", f"{path.name}:{i + 1}: an example's output goes in a ```text block"
                blocks[-1].output = b.code
        blocks.append(b)
        i = j + 1
    return blocks


ALL = [b for p in PAGES for b in _blocks(p)]
PYTHON = [b for b in ALL if b.lang == "python"]


def _params(kinds: set):
    out = []
    for b in PYTHON:
        if (b.marker or "run") not in kinds:
            continue
        marks = {"slow": [pytest.mark.slow], "smollm2": [pytest.mark.slow, pytest.mark.smollm2]}.get(b.marker, [])
        out.append(pytest.param(b, id=b.id, marks=marks))
    return out


def test_pages_have_runnable_examples():
    assert len(PAGES) >= 7, [p.name for p in PAGES]  # README + the docs pages it links
    runnable = [b for b in PYTHON if b.marker != "compile-only"]
    assert {b.path for b in runnable} >= {README, ROOT / "docs" / "runtime.md", ROOT / "docs" / "generate.md"}


def _run(block: Block) -> None:
    buf = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(buf):
        exec(compile(block.code, block.id, "exec"), {"__name__": "doc_example"})  # noqa: S102 - our own docs
    if block.output is not None:
        assert buf.getvalue().rstrip("\n") == block.output.rstrip("\n"), f"{block.id} prints something else"


@pytest.mark.parametrize("block", _params({"run"}))
def test_python_example_runs(block: Block):
    _run(block)


@pytest.mark.parametrize("block", _params({"torch", "slow", "smollm2"}))
def test_python_example_with_torch_runs(block: Block, one_torch_thread):
    _run(block)


@pytest.mark.parametrize("block", _params({"compile-only"}))
def test_fragment_compiles(block: Block):
    assert block.reason, f"{block.id}: a compile-only example must say why it is not run"
    compile(block.code, block.id, "exec")


# ---------------------------------------------------------------------------------- links

def _prose(path: Path) -> list[tuple[int, str]]:
    """(line number, text) outside fenced code blocks."""
    out, fenced = [], False
    for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fenced:
            fenced = ln.strip() != "```"
        elif _FENCE_OPEN.match(ln):
            fenced = True
        else:
            out.append((n, ln))
    return out


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 on repeats."""
    seen: dict[str, int] = {}
    out = set()
    for _, ln in _prose(path):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", ln)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(path: Path) -> list[tuple[int, str]]:
    out = []
    for n, ln in _prose(path):
        ln = re.sub(r"``[^`]*``|`[^`]*`", "", ln)
        out += [(n, t) for t in re.findall(r"\]\(([^)\s]+)\)", ln)]
    return out


def test_anchor_rule_on_known_headings():
    assert {"the-two-commands", "generate-a-python-function-as-the-tool"} <= _anchors(README)
    assert "compile_tools-options" in _anchors(ROOT / "docs" / "runtime.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    bad = []
    links = _links(page)
    for n, target in links:
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            bad.append(f"{page.name}:{n}: {target} -> no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in _anchors(dest)):
            bad.append(f"{page.name}:{n}: {target} -> no heading #{anchor} in {dest.name}")
    assert not bad, "\n".join(bad)
    if page == README:
        linked = {(page.parent / t.partition("#")[0]).resolve() for _, t in links}
        assert set(PAGES[1:]) <= linked, "the README links every docs page"


def test_named_files_and_modules_exist():
    """Repository paths in backticks and `python -m` modules of this project name real files."""
    bad = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path in re.findall(r"`((?:tests|benchmarks|structcall|scripts|docs)/[\w./-]+)`", text):
            if not (ROOT / path).exists():
                bad.append(f"{page.name}: {path}")
        for mod in re.findall(r"python -m ((?:structcall|benchmarks)[\w.]*)", text):
            base = ROOT / mod.replace(".", "/")
            if not (base.with_suffix(".py").exists() or (base / "__main__.py").exists()):
                bad.append(f"{page.name}: python -m {mod}")
    assert not bad, bad


# ------------------------------------------------------------------------------- commands

def _make_targets() -> dict[str, tuple[list[str], str]]:
    """Makefile target -> (its prerequisites, its recipe)."""
    targets: dict[str, tuple[list[str], str]] = {}
    name = None
    for ln in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([A-Za-z][\w.-]*)\s*:(?!=)(.*)$", ln)
        if m:
            name = m.group(1)
            targets[name] = (m.group(2).split("#")[0].split(), "")
        elif ln.startswith("\t") and name:
            targets[name] = (targets[name][0], targets[name][1] + ln.strip() + "\n")
        elif ln.strip() and not ln.startswith("#"):
            name = None
    return targets


def _commands(code: str) -> list[str]:
    lines = [ln.split("#", 1)[0].strip() for ln in code.splitlines()]
    return [ln for ln in lines if ln]


def test_the_two_commands_are_make_run_and_make_test():
    text = README.read_text(encoding="utf-8")
    at = text[: text.index("\n## The two commands")].count("\n") + 2
    first = next(b for b in _blocks(README) if b.line > at)
    assert first.lang == "bash"
    assert _commands(first.code) == ["make run", "make test"]
    targets = _make_targets()
    # make run: set up, then the tiny experiment; make test: set up both environments, then pytest
    assert "setup" in targets["run"][0]
    config = re.search(r"structcall experiment run --config (\S+)", targets["run"][1])
    assert config and re.search(r"(?m)^name: tiny$", (ROOT / config.group(1)).read_text())
    assert {"setup", "vllm-env"} <= set(targets["test"][0])
    assert "-m pytest" in targets["test"][1] and " -m " not in targets["test"][1].split("pytest", 1)[1]
    assert "make test" in _commands((ROOT / ".ci" / "run").read_text())


def test_every_make_target_named_in_the_docs_exists():
    targets = _make_targets()
    named = set()
    for page in PAGES:  # `make X` in prose, and make commands in shell blocks
        named |= set(re.findall(r"`make ([a-z][\w-]*)[^`]*`", page.read_text(encoding="utf-8")))
    for b in ALL:
        if b.lang == "bash":
            named |= {c.split()[1] for c in _commands(b.code) if c.startswith("make ")}
    assert {"run", "test"} <= named
    assert named <= set(targets), f"not Makefile targets: {sorted(named - set(targets))}"


def _cli_parser():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module = importlib.import_module(scripts["structcall"].split(":")[0])
    return module._parser()


def test_documented_cli_commands_parse():
    from structcall.experiments.config import packaged_configs

    parser = _cli_parser()
    seen = 0
    for b in ALL:
        if b.lang != "bash":
            continue
        for cmd in _commands(b.code.replace("\\\n", " ")):
            if not cmd.startswith("structcall experiment"):
                continue
            args = shlex.split(cmd)[1:]
            ns = parser.parse_args(args)  # exits (fails the test) on an unknown option
            if getattr(ns, "config", None):
                assert ns.config in packaged_configs() or (ROOT / ns.config).exists(), \
                    f"{b.id}: {ns.config} is neither a file nor a packaged config"
            seen += 1
    assert seen >= 4


# -------------------------------------------------------------------- docs cover the API

def _table_first_column(path: Path, header: str) -> list[str]:
    rows, inside = [], False
    for _, ln in _prose(path):
        if ln.startswith(header):
            inside = True
            continue
        if inside:
            if not ln.startswith("|"):
                break
            cell = ln.split("|")[1].strip()
            if not set(cell) <= set("-: "):
                rows.append(cell.strip("`"))
    return rows


def test_formats_table_lists_every_format():
    from structcall.formats import FORMATS

    rows = _table_first_column(ROOT / "docs" / "formats.md", "| format |")
    assert sorted(rows) == sorted(FORMATS)


def _check_documented(fn, page: str) -> None:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    params = [p for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY]
    assert params
    missing = [p.name for p in params if f"`{p.name}" not in text and f"{p.name}=" not in text]
    assert not missing, f"{page} does not document {missing}"


def test_every_core_option_is_documented():
    from structcall import compile_tools, parse_calls

    _check_documented(compile_tools, "runtime.md")
    _check_documented(parse_calls, "runtime.md")


def test_every_generate_option_is_documented(one_torch_thread):
    import dataclasses

    import structcall

    # by name: the fixture takes this test out of the torch-free tier, an import statement would take the file
    decoding = importlib.import_module("structcall.decoding")
    _check_documented(structcall.generate, "generate.md")
    text = (ROOT / "docs" / "generate.md").read_text(encoding="utf-8")
    for cls in (decoding.GrammarOptions, decoding.PromptOptions, decoding.DecodingOptions):
        missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}" not in text and f"{f.name}=" not in text]
        assert not missing, f"generate.md does not document {cls.__name__} fields {missing}"


def test_no_process_words_in_docs():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        hits = re.findall(r"\b(?:issue \d+|the issue|this session)\b", text, flags=re.I)
        assert not hits, f"{page.name}: {hits}"
