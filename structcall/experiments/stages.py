"""The work each pipeline stage does (``pipeline.Run`` decides whether it needs doing)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .models import build_tiny, count_parameters, device_name, load_causal_lm, train_task_tokenizer
from .training import pretrain_lm, train_dpo, train_sft

__all__ = ["render", "build_bases", "run_teacher", "text_rows", "sample_student", "train_arm", "eval_items", "eval_model"]


def render(messages: list[dict], tools: list[dict], *, completion: str | None = None) -> str:
    """Text of a conversation under the experiment's chat template (no tokenizer needed)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    from .chat import CHAT_TEMPLATE

    convo = messages + ([{"role": "assistant", "content": completion}] if completion is not None else [])
    out, _ = render_jinja_template(conversations=[convo], tools=tools, chat_template=CHAT_TEMPLATE)
    return out[0]


def _sft_rows(examples: list[dict]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"messages": ex["messages"] + [{"role": "assistant", "content": ex["target"]}],
                               "tools": json.dumps(ex["tools"])} for ex in examples])


def build_bases(run: Any, splits: dict[str, list[dict]], out: Path) -> None:
    c = run.cfg
    out.mkdir(parents=True, exist_ok=True)
    bases: dict[str, Any] = {}
    tiny_teacher = c.teacher.kind == "model" and c.teacher.model.is_tiny
    tok = None
    if c.student.is_tiny or tiny_teacher:
        corpus = [render(ex["messages"], ex["tools"], completion=ex["target"])
                  for split in ("pretrain", "teacher", "train") for ex in splits[split]]
        tok = train_task_tokenizer(corpus, vocab_size=c.tokenizer_vocab_size)
        tok.save_pretrained(str(out / "tokenizer"))
        run.log(f"base: tokenizer trained on {len(corpus)} task texts, vocabulary {len(tok)}")
        texts = [render(ex["messages"], ex["tools"], completion=ex["target"] if c.pretrain_on == "conversations" else None)
                 for ex in splits["pretrain"]]
    for role, spec, settings in (("student", c.student, c.pretrain), ("teacher", c.teacher.model, c.teacher.pretrain)):
        if role == "teacher" and c.teacher.kind != "model":
            continue
        if spec.source == "student-base":
            bases[role] = bases["student"]
            run.log("base: the teacher starts from the student's pretrained base and is trained longer")
            continue
        if not spec.is_tiny:
            bases[role] = spec.source
            run.log(f"base: {role} is the pretrained model {spec.source!r} (no pretraining stage)")
            continue
        model = build_tiny(tok, hidden_size=spec.hidden_size, num_hidden_layers=spec.num_hidden_layers,
                           num_attention_heads=spec.num_attention_heads, num_key_value_heads=spec.num_key_value_heads,
                           intermediate_size=spec.intermediate_size, seed=spec.seed)
        run.log(f"base: pretraining the tiny {role} ({count_parameters(model) / 1e6:.2f}M parameters) on "
                f"{len(texts)} task texts for {settings.epochs:g} epoch(s)")
        final = pretrain_lm(model, tok, texts, out / role, settings, seed=spec.seed, progress=run.progress)
        bases[role] = str(final)
        bases[f"{role}_parameters"] = count_parameters(model)
    (out / "bases.json").write_text(json.dumps(bases, indent=1))


def run_teacher(run: Any, bases: dict, out: Path) -> None:
    from .teacher import model_candidates, oracle_candidates
    from .verifier import verify

    c = run.cfg.teacher
    splits = run.tasks()
    examples = splits["train"]
    out.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"kind": c.kind}
    if c.kind == "oracle":
        per = max(1, c.samples_per_prompt // 2)
        run.log(f"teacher: oracle gold + up to {per} verified negatives per category for {len(examples)} prompts")
        candidates = [cand for ex in examples for cand in oracle_candidates(ex, negatives_per_category=per,
                                                                            seed=run.cfg.tasks.seed, fmt=run.cfg.format)]
    else:
        source = bases["teacher"]
        model, tok = load_causal_lm(source)
        if c.model.is_tiny:
            run.log(f"teacher: fine-tuning the tiny teacher on {len(splits['teacher'])} gold examples")
            source = str(train_sft(model, tok, text_rows(_sft_rows(splits["teacher"]), tok, run.cfg.format), out / "sft",
                                   c.sft, seed=c.model.seed, progress=run.progress))
            model, tok = load_causal_lm(source)
        model.to(device_name())
        run.log(f"teacher: sampling {c.samples_per_prompt} responses per prompt at temperature {c.temperature:g} "
                f"for {len(examples)} prompts")
        candidates = model_candidates(model, tok, examples, k=c.samples_per_prompt, temperature=c.temperature,
                                      top_p=c.top_p, max_new_tokens=c.max_new_tokens, batch_size=c.batch_size,
                                      seed=run.cfg.tasks.seed, progress=run.progress, fmt=run.cfg.format)
        if c.include_gold:
            from .data import target_text

            candidates += [{"id": ex["id"], "text": target_text(ex, run.cfg.format), "source": "gold",
                            "verdict": verify(target_text(ex, run.cfg.format), ex, format=run.cfg.format).as_dict()}
                           for ex in examples]
        info["model"] = source
        info["parameters"] = count_parameters(model)
    correct = sum(1 for x in candidates if x["verdict"]["ast_correct"] and x["verdict"]["exec_correct"] is not False)
    info["candidates"], info["correct"] = len(candidates), correct
    with (out / "candidates.jsonl").open("w") as f:
        for cand in candidates:
            f.write(json.dumps(cand) + "\n")
    (out / "teacher.json").write_text(json.dumps(info, indent=1))
    run.log(f"teacher: {correct}/{len(candidates)} candidates correct")


def _flat_params(model: Any) -> Any:
    import torch

    return torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()])


def text_rows(dataset: Any, tokenizer: Any, fmt: str) -> Any:
    """Conversational rows -> TRL text rows, the prompt written by structcall's prompt renderer
    (the text ``generate_batch`` decodes from: same system prompt, tool list and format)."""
    from datasets import Dataset

    from structcall.compile import compile_tools
    from structcall.decoding.prompt import render_prompt

    grammars: dict[str, Any] = {}

    def prompt(messages: list[dict], tools: str) -> str:
        if tools not in grammars:
            grammars[tools] = compile_tools(json.loads(tools), format=fmt, tool_choice="auto", parallel_tool_calls=True)
        return render_prompt(tokenizer, messages, grammars[tools])

    rows = []
    for r in dataset:
        if "messages" in r:
            rows.append({"prompt": prompt(r["messages"][:-1], r["tools"]), "completion": r["messages"][-1]["content"]})
        else:
            rows.append({"prompt": prompt(r["prompt"], r["tools"]), "chosen": r["chosen"][0]["content"],
                         "rejected": r["rejected"][0]["content"]})
    return Dataset.from_list(rows)


def sample_student(run: Any, seed: int, init: str, out: Path) -> dict:
    """The SFT student's own samples on the training prompts, verified, and the on-policy pairs."""
    from datasets import Dataset

    from .data import control_rows, onpolicy_pairs, pair_audit
    from .teacher import model_candidates

    c, d = run.cfg, run.cfg.data
    examples = run.tasks()["train"]
    model, tok = load_causal_lm(init, device=device_name())
    run.log(f"onpolicy: sampling the SFT student (seed {seed}) {d.onpolicy_samples}x per prompt at temperature "
            f"{d.onpolicy_temperature:g} on {len(examples)} prompts")
    samples = model_candidates(model, tok, examples, k=d.onpolicy_samples, temperature=d.onpolicy_temperature,
                               max_new_tokens=d.onpolicy_max_new_tokens, batch_size=d.onpolicy_batch_size,
                               seed=seed, progress=run.progress, fmt=c.format)
    pairs = onpolicy_pairs(examples, samples, c.format, pairs_per_prompt=d.pairs_per_prompt, max_pairs=d.max_pairs,
                           seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "samples.jsonl").open("w") as f:
        for smp in samples:
            f.write(json.dumps(smp) + "\n")
    if not pairs:
        raise ValueError(f"the SFT student (seed {seed}) made no mistake on {len(examples)} training prompts: "
                         "no on-policy pairs (raise data.onpolicy_samples or onpolicy_temperature)")
    Dataset.from_list(pairs).save_to_disk(str(out / "dpo"))
    Dataset.from_list(control_rows(pairs)).save_to_disk(str(out / "sft_control"))
    correct = sum(1 for smp in samples if smp["verdict"]["ast_correct"])
    info = {"samples": len(samples), "correct": correct, "audit": pair_audit(pairs)}
    (out / "audit.json").write_text(json.dumps(info, indent=1))
    run.log(f"onpolicy: {correct}/{len(samples)} samples correct; {len(pairs)} pairs")
    return info


def train_arm(run: Any, arm: str, seed: int, data_dir: Path, init: str, out: Path, *, steps: int = 0) -> dict:
    """Train one arm for one seed from ``init`` (``steps``: the DPO arms' and control's step count)."""
    from .data import load_dataset_dir

    c = run.cfg
    model, tok = load_causal_lm(init)
    before = _flat_params(model)
    ds = load_dataset_dir(data_dir, arm)
    info: dict[str, Any] = {"arm": arm, "seed": seed, "init": init, "rows": len(ds)}
    rows = text_rows(ds, tok, c.format)
    if arm == "sft":
        settings = c.sft
        train_sft(model, tok, rows, out, settings, seed=seed, progress=run.progress)
    else:
        settings = dataclasses.replace(c.dpo, max_steps=steps)
        if arm == "sft_control":  # same steps, batch size and optimiser settings as DPO; SFT loss on chosen
            train_sft(model, tok, rows, out, settings, seed=seed, progress=run.progress)
        else:
            ref = None if settings.lora_r else load_causal_lm(init)[0]
            train_dpo(model, ref, tok, rows, out, settings, seed=seed, progress=run.progress)
    after = _flat_params(load_causal_lm(out / "final")[0])  # the saved weights (LoRA: merged)
    log = json.loads((out / "train_log.json").read_text())
    info.update(steps=log["global_step"], resumed_from=log["resumed_from"],
                param_delta_l2=float((after - before).norm()), param_l2=float(before.norm()),
                settings=dataclasses.asdict(settings))
    return info


def eval_items(run: Any) -> list[dict]:
    """The own suite's eval split, plus the stratified BFCL sample when the config asks for one."""
    e = run.cfg.eval
    items = [{**ex, "suite": "own"} for ex in run.tasks()["eval"]]
    if e.bfcl_per_category:
        from .bfcl import load_bfcl

        excluded: list[dict] = []
        items += load_bfcl(categories=e.bfcl_categories, per_category=e.bfcl_per_category, seed=run.cfg.tasks.seed,
                           excluded=excluded)
        for x in excluded:
            run.log(f"eval: BFCL {x['id']} left out (replaced by another item of {x['subtask']}): {x['reason']}")
    return items


def _eval_regime(run: Any, model: Any, tok: Any, examples: list[dict], regime: str, partial: Path, *,
                 tags: dict, seed: int, desc: str) -> list[dict]:
    """One regime's rows, generated chunk by chunk and appended to ``partial`` as each chunk ends,
    so an interrupted evaluation resumes at its last whole chunk. A chunk starting at item ``start``
    samples with ``seed + start`` (as one :func:`evaluate_model` call over every item would), so a
    resumed regime's rows equal an uninterrupted one's."""
    from .evaluation import evaluate_model
    from .progress import batches

    e = run.cfg.eval
    size = max(e.batch_size * 2, 1)
    done: list[dict] = []
    if partial.exists():
        kept = []
        for line in partial.read_text().splitlines():
            try:
                kept.append(json.loads(line))
            except json.JSONDecodeError:  # a line torn by the interruption: it and what follows are redone
                break
        n = len(kept) - len(kept) % size  # whole chunks only; a torn last line is dropped with its chunk
        ids = [(ex.get("suite", "own"), ex["id"]) for ex in examples[:n]]
        if [(r["suite"], r["item"]) for r in kept[:n]] == ids and all(
                r.get(k) == v for r in kept[:n] for k, v in tags.items()):
            done = kept[:n]
            run.log(f"eval: {desc}: resuming after {n} of {len(examples)} items ({partial})")
        else:
            run.log(f"eval: {desc}: {partial} does not match these items; starting the regime again")
    with partial.open("w") as f:  # rewritten with the whole chunks kept
        for r in done:
            f.write(json.dumps(r) + "\n")
    rows = list(done)
    for start, chunk in batches(examples, size=size, desc=desc, progress=run.progress):
        if start < len(done):
            continue
        new = evaluate_model(model, tok, chunk, regime=regime, backend=e.backend, max_new_tokens=e.max_new_tokens,
                             batch_size=e.batch_size, temperature=e.temperature, seed=seed + start,
                             fast_forward=e.fast_forward, format=run.cfg.format, progress=False, tags=tags)
        with partial.open("a") as f:
            for r in new:
                f.write(json.dumps(r) + "\n")
            f.flush()
            os.fsync(f.fileno())
        rows += new
    return rows


def eval_model(run: Any, arm: str, seed: int, path: str, out: Path) -> None:
    e = run.cfg.eval
    examples = eval_items(run)
    if e.bfcl_arms and arm not in e.bfcl_arms:
        examples = [ex for ex in examples if ex["suite"] == "own"]
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_causal_lm(path, device=device_name())
    for regime in ("free", "constrained"):
        target = out / f"{regime}.jsonl"
        if target.exists():  # written by an earlier, interrupted run
            continue
        rows = _eval_regime(run, model, tok, examples, regime, out / f"{regime}.partial.jsonl",
                            tags={"arm": arm, "seed": seed, "model": path}, seed=seed,
                            desc=f"eval {arm} s{seed} {regime}")
        tmp = target.with_suffix(".tmp")
        with tmp.open("w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        tmp.replace(target)
        (out / f"{regime}.partial.jsonl").unlink(missing_ok=True)
        own = [r for r in rows if r["suite"] == "own" and r["expect"] == "call"]
        valid = sum(r["format_valid"] and r["decision"] == "call" for r in own) / max(1, len(own))
        acc = sum(r["ast"] for r in own) / max(1, len(own))
        run.log(f"eval: {arm} seed {seed} {regime}: own call items: valid calls {valid:.1%}, AST accuracy {acc:.1%}")
