"""The torch-free tier's selection and guard (tests/core_tier.py), run on a small test folder in
a separate pytest process (the guard's job is to notice imports, so it needs a fresh one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core_tier import function_heavy_imports, heavy_imports

HERE = Path(__file__).parent


def test_heavy_imports_are_found_wherever_they_stand(tmp_path):
    f = tmp_path / "test_x.py"
    f.write_text("import json\nfrom structcall import compile_tools\n\ndef test_a():\n    from structcall.decoding import generate\n")
    assert heavy_imports(f) == ()  # inside a function: that test leaves the tier, not its file

    def test_lazy():
        import xgrammar  # noqa: F401

    assert function_heavy_imports(test_lazy) == ("xgrammar",)
    assert function_heavy_imports(test_heavy_imports_are_found_wherever_they_stand) == ()
    g = tmp_path / "test_y.py"
    g.write_text("import os\nfrom structcall import parse_calls, decoding\nimport torch.nn as nn\n")
    assert heavy_imports(g) == ("structcall.decoding", "torch.nn")
    k = tmp_path / "test_k.py"
    k.write_text("try:\n    import transformers\nexcept ImportError:\n    pass\nclass TestA:\n    import vllm\n")
    assert heavy_imports(k) == ("transformers", "vllm")
    h = tmp_path / "test_z.py"
    h.write_text("from . import helper\nfrom structcall.split import CallSplitter\n")
    assert heavy_imports(h) == ()


def test_the_tier_leaves_heavy_tests_out_and_fails_when_torch_sneaks_in(tmp_path):
    (tmp_path / "helper.py").write_text("import torch\n")  # torch, behind a module the scan does not read
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    (tmp_path / "test_heavy_file.py").write_text("import torch\n\ndef test_never_collected():\n    assert False\n")
    (tmp_path / "test_marks.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef tiny_model():\n    return 1\n\n"
        "def test_uses_a_model_fixture(tiny_model):\n    assert False\n\n"
        "@pytest.mark.slow\ndef test_slow():\n    assert False\n")
    (tmp_path / "test_sneaky.py").write_text("def test_sneaky():\n    import helper  # noqa: F401\n\n"
                                             "def test_after():\n    assert True\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(tmp_path)])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "core_tier", "--core", "-q", "-p", "no:cacheprovider",
                          "-o", "markers=slow", "-rfE", str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    # the heavy file is not collected; the model fixture and the slow mark deselect their tests;
    # the sneaky test fails naming torch, and only it (the next test is not to blame)
    assert "1 failed, 2 passed, 2 deselected" in out, out
    assert "FAILED test_sneaky.py::test_sneaky" in out and "test_after" not in out.split("short test summary")[-1], out
    assert "the torch-free tier imported ['torch']" in out, out
