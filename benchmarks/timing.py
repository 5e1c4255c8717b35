"""Small measuring helpers: percentiles, a forked run with a time limit, the machine's facts."""

from __future__ import annotations

import os
import pickle
import platform
import select
import signal
import statistics
import subprocess
import time
from importlib import metadata
from typing import Any, Callable

__all__ = ["machine_info", "median", "percentile", "run_forked", "summary", "timed", "versions"]


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float | int]:
    """p50, p99, max, mean and count of ``values``."""
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
        "n": len(values),
    }


def run_forked(fn: Callable[[], Any], timeout_s: float) -> tuple[str, Any]:
    """Run ``fn`` in a forked child and return ``("ok", result)``, ``("error", message)`` or
    ``("timeout", timeout_s)``.

    Used for grammar compilations that can take minutes (outlines-core's DFA grows with
    bounded repetitions): the child is killed at the limit, so one slow backend cannot stall
    the run. The child inherits everything already built (tokenizers, vocabularies), and
    ``fn`` measures its own time, so the fork itself is not counted.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            out: tuple[str, Any] = ("ok", fn())
        except BaseException as exc:  # report any failure to the parent
            out = ("error", f"{type(exc).__name__}: {exc}")
        try:
            os.write(write_end, pickle.dumps(out))
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], timeout_s)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            return ("timeout", timeout_s)
        chunks = []
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            return ("error", "the child process died without a result (out of memory?)")
        return pickle.loads(b"".join(chunks))
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def machine_info() -> dict[str, Any]:
    """CPU model and count, memory, GPU presence, OS and Python, and the load when measured."""
    cpu = _lscpu()
    mem_gib = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import torch

        threads = torch.get_num_threads()
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        threads, gpu = None, None
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = None
    return {
        "cpu": cpu.get("Model name") or platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "architecture": cpu.get("Architecture") or platform.machine(),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "memory_gib": mem_gib,
        "gpu": gpu,
        "torch_threads": threads,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries the benchmark measures."""
    out = {}
    for name in ("structcall", "torch", "transformers", "tokenizers", "llguidance", "outlines",
                 "outlines_core", "xgrammar"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result
