"""LoRA fine-tuning of a causal LM on (prompt, completion) pairs, merged back into full weights.

The prompt is formatted exactly as the evaluation backend formats it (chat template with a
generation prompt when the tokenizer has one), so an expert learns the format it is tested in.
Loss is computed on completion tokens only, and the LM head is applied only at those positions:
on a 49k-token vocabulary that is most of the saving over a plain ``model(labels=...)`` call.
"""

from __future__ import annotations

import gc
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from acdc_core.adapters.backends.hf import format_prompt


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the learning rate."""


@dataclass(frozen=True)
class TrainSpec:
    """One fine-tune's hyper-parameters.

    ``lora_layers``: LoRA goes on the top ``lora_layers`` decoder layers only (None: all); the
    frozen layers below need no backward pass, which is most of the CPU time saved.
    ``lr`` is the peak of a linear warm-up (``warmup`` steps) then linear decay to 0.
    """

    steps: int = 100
    batch_size: int = 16
    lr: float = 2e-3
    warmup: int = 10
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_layers: int | None = None
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    max_grad_norm: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


ProgressFn = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TrainPair:
    """A prompt (the run's prompt template applied, before the chat template) and the target
    completion; ``ends``: the completion is whole, so the model learns to stop after it (EOS)."""

    prompt: str
    completion: str
    ends: bool = True


def _encode(tokenizer, pairs: list[TrainPair], chat: bool) -> list[tuple[list[int], int]]:
    """Token ids of prompt + completion (+ EOS when it ends), and where the completion starts."""
    eos = tokenizer.eos_token or ""
    out = []
    for pair in pairs:
        text, special = format_prompt(tokenizer, pair.prompt, chat)
        p = tokenizer(text, add_special_tokens=special)["input_ids"]
        c = tokenizer(pair.completion + (eos if pair.ends else ""), add_special_tokens=False)["input_ids"]
        out.append((p + c, len(p)))
    return out


def _batch(encoded: list[tuple[list[int], int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids [B, T], attention mask [B, T], and target ids [B, T] (-100 = no loss)
    aligned with the position that predicts them."""
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    targets = torch.full_like(ids, -100)
    for i, (seq, start) in enumerate(encoded):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        targets[i, start - 1 : len(seq) - 1] = torch.tensor(seq[start:])
    return ids, mask, targets


def _lr_factor(step: int, spec: TrainSpec) -> float:
    if step < spec.warmup:
        return (step + 1) / spec.warmup
    return max(0.0, (spec.steps - step) / max(1, spec.steps - spec.warmup))


def finetune(
    model_dir: str | Path,
    out_dir: str | Path,
    pairs: list[TrainPair],
    spec: TrainSpec,
    save_dtype: str = "bfloat16",
    use_chat_template: bool = True,
    progress: ProgressFn | None = None,
) -> list[float]:
    """Fine-tune the model in ``model_dir`` on ``pairs`` and save the merged model to ``out_dir``.

    Args:
        pairs: the training examples, sampled without replacement epoch by epoch.
        use_chat_template: format prompts as the evaluation backend does with this setting.
        progress: called after every step with (step, total steps, loss).

    Returns:
        The loss curve: mean completion-token cross-entropy (nats) per step, ``spec.steps`` long.

    Raises:
        TrainingDiverged: a NaN or infinite loss; nothing is written to ``out_dir``.
        ValueError: no pairs.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not pairs:
        raise ValueError("no training pairs")
    torch.manual_seed(spec.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    n_layers = model.config.num_hidden_layers
    layers = None if spec.lora_layers is None else list(range(max(0, n_layers - spec.lora_layers), n_layers))
    model = get_peft_model(model, LoraConfig(
        r=spec.lora_rank, lora_alpha=spec.lora_alpha, lora_dropout=0.0,
        target_modules=list(spec.target_modules), layers_to_transform=layers,
    ))
    base = model.get_base_model()
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    softcap = getattr(base.config, "final_logit_softcapping", None)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, spec))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    encoded = _encode(tokenizer, pairs, use_chat_template)
    rng = random.Random(spec.seed)
    order: list[int] = []
    curve: list[float] = []
    model.train()
    for step in range(spec.steps):
        if len(order) < spec.batch_size:
            epoch = list(range(len(encoded)))
            rng.shuffle(epoch)
            order += epoch
        idx, order = order[: spec.batch_size], order[spec.batch_size :]
        ids, mask, targets = _batch([encoded[i] for i in idx], pad_id)
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
        keep = targets != -100
        logits = head(hidden[keep]).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        loss = torch.nn.functional.cross_entropy(logits, targets[keep])
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"training diverged: loss is {value} at step {step + 1}/{spec.steps} (lr {spec.lr:g}); "
                "lower the expert's lr"
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        curve.append(value)
        if progress:
            progress(step + 1, spec.steps, value)

    merged = model.merge_and_unload()
    merged.to(getattr(torch, save_dtype)).save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    del model, merged, opt
    gc.collect()
    return curve
