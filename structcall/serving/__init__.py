"""Serving integrations.

``structcall.serving.vllm_plugin`` is a vLLM plugin (tool-call parser ``structcall``) and
the only module of structcall that imports vllm; ``structcall.serving.offline`` helps
batch inference with ``vllm.LLM``. This package itself imports nothing from vllm, so
importing it is free.

Usage::

    pip install "structcall[vllm]"
    vllm serve MODEL --enable-auto-tool-choice --tool-call-parser structcall
"""

__all__: list[str] = []
