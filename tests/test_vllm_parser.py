"""StructcallToolParser on real vLLM request objects, without a model or a server.

Runs ``tests/vllm_parser_check.py`` with the vLLM environment's python (the main environment
has no vllm): outputs sampled from structcall's grammars in every format and tool_choice are
parsed non-streaming and streamed in random chunks through vLLM's own ``Parser`` wrapper, and
must agree call for call and character for character; outputs cut at a random point must give
the same outcome on both paths (the complete calls before the cut, or an error naming
max_tokens), never a partial call;
adjust_request must install the grammar for Chat Completions and Responses requests and turn
invalid tools into one 400 listing every problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_server import run_vllm_script, vllm_model_dir, vllm_workdir  # noqa: F401

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("vllm_parser_check.py")


def test_streaming_and_non_streaming_parsing_agree_on_grammar_samples(vllm_model_dir, vllm_workdir):
    report = run_vllm_script(SCRIPT, str(vllm_model_dir), "15", cwd=vllm_workdir)
    assert report["n_failures"] == 0, "\n".join(report["failures"])
    # 5 formats x (3 tool_choices x 2 parallel settings + 1 unenforced set) x 15 samples
    assert report["cases"] == 5 * 7 * 15
    assert report["calls"] >= 300
    # samples that break an unenforced keyword (multipleOf, a number maximum) are rejected
    # by both paths alike
    assert report["rejected"] >= 10
    assert report["cut"] >= 150
    assert report["cut_kept_calls"] >= 20  # cut after a complete call: that call is returned


RETRIEVAL_SCRIPT = Path(__file__).with_name("vllm_retrieval_check.py")


def test_top_k_request_option_limits_the_grammar_to_the_retrieved_tools(vllm_model_dir, vllm_workdir):
    """``vllm_xargs={"structcall_top_k": k}``: the grammar and the validation admit the k tools BM25
    ranks highest for the last user message (plus a named tool_choice's function); without it,
    the whole library; bad values are one 400 naming the option."""
    report = run_vllm_script(RETRIEVAL_SCRIPT, str(vllm_model_dir), cwd=vllm_workdir)
    assert report["n_failures"] == 0, "\n".join(report["failures"])
    assert report["checks"] >= 40
