"""Export a model as a Hugging Face folder that vLLM serves, with tools in its chat template.

    python -m structcall.serving.export smollm2 ./smollm2-hf
    python -m structcall.serving.export path/to/model.gguf ./model-hf --chat-template hermes
    python -m structcall.serving.export ./some-hf-folder ./out --chat-template own --dtype bfloat16

The source is anything :func:`structcall.models.load_model` loads (``smollm2``, a ``.gguf``
file, a folder, a Hugging Face id); the folder is written by
:func:`structcall.models.export_model` (GGUF weights de-quantized, quantization flag cleared).

Chat template (``--chat-template``):

* ``auto`` (default): the model's own template when it renders ``tools``; otherwise
  structcall's ChatML template for the detected output format
  (:func:`structcall.serving.chat_templates.chat_template`), keeping the default system
  turn the own template adds (SmolLM2's "You are a helpful AI assistant named SmolLM...");
* a format name (``hermes``, ``json``, ``mistral``, ...): structcall's template for it;
* ``own``: the tokenizer's template, unchanged;
* a path to a Jinja file.

This module imports nothing from vllm.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["main", "serving_chat_template"]

_PROBE_USER = "structcall-probe-user-7f3a"


def _default_system(tokenizer: Any) -> str | None:
    """The system turn a ChatML template adds to a conversation that has none (or None)."""
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": _PROBE_USER}], tokenize=False,
                                             add_generation_prompt=False)
    except Exception:  # no template, or one that needs more than a user turn
        return None
    head = "<|im_start|>system\n"
    user = text.find("<|im_start|>user\n" + _PROBE_USER)
    if not text.startswith(head) or user < 0:
        return None
    system = text[len(head):user]
    return system[: -len("<|im_end|>\n")] if system.endswith("<|im_end|>\n") else None


def serving_chat_template(tokenizer: Any, choice: str = "auto") -> tuple[str | None, str]:
    """(template to ship or None for the tokenizer's own, a line saying which and why)."""
    from structcall.decoding.prompt import template_renders_tools
    from structcall.formats import FORMATS, detect_format

    from .chat_templates import chat_template, template_formats

    if choice == "own":
        return None, "the model's own chat template (unchanged)"
    if choice == "auto":
        if template_renders_tools(tokenizer):
            return None, "the model's own chat template (it renders tools)"
        fmt = detect_format(tokenizer)
        if fmt not in template_formats():
            raise ValueError(
                f"the model's chat template does not render tools and its output format {fmt!r} has no structcall "
                f"template; pass --chat-template with one of {', '.join(template_formats())} or a Jinja file"
            )
        return (chat_template(fmt, default_system=_default_system(tokenizer)),
                f"structcall's ChatML template for the {fmt} format (the model's own ignores tools)")
    if choice in FORMATS:
        return (chat_template(choice, default_system=_default_system(tokenizer)),
                f"structcall's ChatML template for the {choice} format")
    path = Path(choice)
    if path.is_file():
        return path.read_text(encoding="utf-8"), f"the chat template in {path}"
    raise ValueError(
        f"--chat-template {choice!r} is neither 'auto', 'own', an output format ({', '.join(template_formats())}) "
        "nor an existing file"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m structcall.serving.export",
        description="Write a model (GGUF included) as a Hugging Face folder that vLLM serves.",
    )
    parser.add_argument("source", help="'smollm2', a .gguf file, a model folder or a Hugging Face id")
    parser.add_argument("out_dir", help="folder to write")
    parser.add_argument("--chat-template", default="auto",
                        help="'auto' (default), 'own', an output format name, or a Jinja file")
    parser.add_argument("--dtype", default=None, help="weights dtype on disk (default: float32 as loaded)")
    args = parser.parse_args(argv)

    from structcall.models import export_model, load_model

    model, tokenizer = load_model(args.source)
    template, why = serving_chat_template(tokenizer, args.chat_template)
    out = export_model(model, tokenizer, args.out_dir, chat_template=template, dtype=args.dtype)
    print(f"wrote {out} with {why}")
    print(f"serve it: python -m vllm.entrypoints.openai.api_server --model {out} "
          "--enable-auto-tool-choice --tool-call-parser structcall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
