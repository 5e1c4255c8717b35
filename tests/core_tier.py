"""The torch-free tier (``pytest --core``, ``make test-core``): every test that needs no torch,
transformers or vLLM, selected without being listed, and guarded so it cannot rot.

Selection, in three steps:

* a test file is left out (not even imported) when an import statement outside its functions
  names a module of `HEAVY_IMPORTS`;
* a test is deselected when its own body imports one, when it uses a fixture of
  `HEAVY_FIXTURES` (directly or through other fixtures), or when it is marked ``slow``,
  ``smollm2``, ``vllm`` or ``gpu``;
* every test that remains is marked ``core``.

xgrammar imports torch and transformers when it is imported, so the tier blocks it (as if it
were not installed): `structcall.testing.check_table` then asks lark and llguidance only, and
the terminal summary says so; ``make test`` asks all three engines.

The guard: if torch, transformers or vllm (`GUARDED`) is imported while the tier runs, during
collection or by a test, the run fails and names where, so a file that starts needing torch
indirectly fails the tier instead of quietly slowing it down. Fix it by importing the heavy
module explicitly in that file (it then leaves the tier) or by keeping the import lazy.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest

#: libraries the tier must never load
GUARDED = ("torch", "transformers", "vllm")
#: modules whose import (anywhere in a test file) takes the file out of the tier: the guarded
#: libraries, the training stack, the benchmarks that decode, and structcall's own modules that load torch when imported
HEAVY_IMPORTS = GUARDED + ("xgrammar", "trl", "peft", "datasets", "accelerate", "gguf", "outlines",
                           "benchmarks.e2e_bench", "benchmarks.compile_bench", "benchmarks.mask_bench", "benchmarks.run",
                           "benchmarks.generate_sweep",
                           "structcall.decoding", "structcall.models", "structcall.experiments.training",
                           "structcall.experiments.models", "structcall.experiments.pipeline",
                           "structcall.experiments.evaluation", "structcall.experiments.teacher")
#: fixtures (tests/conftest.py) that build or load a model or tokenizer
HEAVY_FIXTURES = ("tiny_tokenizer", "tiny_plain_tokenizer", "tiny_model", "tiny_model64", "smollm2", "one_torch_thread")
HEAVY_MARKS = ("slow", "smollm2", "vllm", "gpu")


def _heavy(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in HEAVY_IMPORTS)


def _imports(tree) -> list[str]:
    """The heavy modules imported in `tree`, not counting the bodies of functions inside it."""
    found, todo = [], list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        todo += ast.iter_child_nodes(node)
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if _heavy(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            full = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [m for m in full if _heavy(m)][:1]
    return sorted(found)


@lru_cache(maxsize=None)
def heavy_imports(path: Path) -> tuple[str, ...]:
    """The heavy modules a Python file imports outside its functions."""
    return tuple(_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))))


def function_heavy_imports(fn) -> tuple[str, ...]:
    """The heavy modules a test function imports in its own body."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return ()
    body = [n for top in tree.body if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in top.body]
    return tuple(_imports(ast.Module(body=body, type_ignores=[])))


def loaded_guarded() -> list[str]:
    return [m for m in GUARDED if m in sys.modules]


def pytest_addoption(parser):
    parser.addoption("--core", action="store_true", default=False,
                     help="run only the torch-free tier (no torch, transformers or vLLM), and fail if one is imported")


def pytest_configure(config):
    if config.getoption("--core"):
        already = loaded_guarded()
        if already:
            raise pytest.UsageError(f"--core: {already} imported before the tests were collected (by a plugin or conftest)")
        sys.modules.setdefault("xgrammar", None)  # blocked: importing it raises ImportError, find_spec gives None


def pytest_terminal_summary(terminalreporter, config):
    if config.getoption("--core"):
        terminalreporter.write_line("torch-free tier: xgrammar (it imports torch) was blocked, so grammar tables were "
                                    "checked by lark and llguidance; `make test` checks xgrammar too")


def pytest_ignore_collect(collection_path: Path, config):
    if not config.getoption("--core"):
        return None
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_") and heavy_imports(collection_path):
        return True
    return None


def _is_core(item) -> bool:
    if any(item.get_closest_marker(m) for m in HEAVY_MARKS):
        return False
    if any(f in HEAVY_FIXTURES for f in getattr(item, "fixturenames", ())):
        return False
    if getattr(item, "function", None) is not None and function_heavy_imports(item.function):
        return False
    return not heavy_imports(Path(item.path))


def pytest_collection_modifyitems(config, items):
    core = []
    for item in items:
        if _is_core(item):
            item.add_marker(pytest.mark.core)
            core.append(item)
    if config.getoption("--core"):
        config.hook.pytest_deselected(items=[i for i in items if i not in core])
        items[:] = core


def pytest_collection_finish(session):
    if session.config.getoption("--core"):
        loaded = loaded_guarded()
        if loaded:
            raise pytest.UsageError(f"--core: collecting the torch-free tier imported {loaded}; a test file imports it "
                                    "indirectly (import it explicitly there, or keep the import lazy)")


_REPORTED: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if item.config.getoption("--core") and not _REPORTED:
        loaded = loaded_guarded()
        if loaded:
            _REPORTED.append(item.nodeid)  # the first test that loaded it fails; the rest are not to blame
            raise AssertionError(
                f"the torch-free tier imported {loaded} while running this test; take it out of the tier (import "
                "the heavy module explicitly in its file, use a model fixture, or mark it slow)")
    return result
