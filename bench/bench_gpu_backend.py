"""The ``hf`` evaluation backend on a GPU: greedy agreement with the CPU, tokens/s, and a
candidate's in-place weight swap against a backend restart, at 135M (the real SmolLM2 seed) and
at 1.7B and 7B (random weights of the SmolLM2-1.7B and Llama-2-7B shapes: timings do not depend
on the values).

Run it twice: once on this CPU machine, which writes the reference answers, then on the GPU
machine with them::

    python bench/bench_gpu_backend.py --gguf SmolLM2-135M-Instruct.Q4_1.gguf --device cpu --out ref.json
    python bench/bench_gpu_backend.py --gguf ... --device cuda --reference ref.json --out gpu.json

It needs torch, transformers and gguf only (it imports the backend, nothing of the run), so it
runs in a GPU image that lacks the run's dependencies.  The model is dequantised from the
shipped GGUF by the run's own ``acdc_core.adapters.seeds.convert_gguf`` (saved in bfloat16).
Prints one line per measurement and writes them all as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acdc_core.adapters.backends.hf import HFBackend  # noqa: E402
from acdc_core.adapters.seeds import convert_gguf  # noqa: E402

PROMPTS = [  # seed-task style instructions; each is asked in the run's prompt template
    "What is {a} plus {b}? Answer with the number only.",
    "Reverse the word '{w}'. Answer with the reversed word only.",
    "Is {a} even or odd? Answer 'even' or 'odd'.",
    "Write the word '{w}' in upper case.",
    "How many vowels are in the word '{w}'? Answer with a number.",
    "Sort these numbers from smallest to largest: {a}, {b}, {c}.",
    "What is {a} times {b}? Answer with the number only.",
    "Which is larger, {a} or {b}?",
]
WORDS = ["planet", "orange", "window", "garden", "silver", "rocket", "bridge", "candle"]
TEMPLATE = "Complete the following task.\n\n{instructions}\n\nAnswer:"


def prompts(n: int) -> list[str]:
    """``n`` distinct prompts, the same on every machine."""
    out = []
    for i in range(n):
        p = PROMPTS[i % len(PROMPTS)].format(a=11 + 7 * i % 89, b=3 + 13 * i % 47, c=5 + 3 * i % 71,
                                            w=WORDS[i // len(PROMPTS) % len(WORDS)])
        out.append(TEMPLATE.format(instructions=p))
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    sync(device)
    t0 = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - t0


def swap_vs_restart(folder: Path, device: str, dtype: str, rounds: int) -> dict:
    """Seconds to swap a candidate's weights (a CPU state dict, as the run holds a merged child)
    into the loaded backend, against closing it and loading the candidate's folder anew."""
    backend, load_s = timed(lambda: HFBackend(str(folder), device=device, dtype=dtype), device)
    weights = {k: (v.detach().to("cpu", copy=True) * 1.001) for k, v in backend.model.state_dict().items()}
    swaps = []
    for _ in range(rounds):
        _, s = timed(lambda: backend.load_weights(weights), device)
        swaps.append(s)
    restarts = []
    for _ in range(rounds):
        backend.close()
        del backend
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        backend, s = timed(lambda: HFBackend(str(folder), device=device, dtype=dtype), device)
        restarts.append(s)
    backend.close()
    gb = sum(w.numel() * w.element_size() for w in weights.values()) / 1e9
    return {"first_load_s": load_s, "swap_s": min(swaps), "restart_s": min(restarts),
            "swap_speedup": min(restarts) / min(swaps), "state_dict_gb": gb}


def throughput(backend: HFBackend, n: int, max_new_tokens: int, device: str) -> dict:
    gens, s = timed(lambda: backend.generate(prompts(n), max_new_tokens), device)
    tokens = sum(g.tokens for g in gens)
    return {"prompts": n, "batch_size": backend.batch_size, "max_new_tokens": max_new_tokens,
            "tokens": tokens, "seconds": s, "tokens_per_s": tokens / s}


def random_model(config_kwargs: dict, tokenizer_dir: Path, out: Path, device: str) -> Path:
    """A random-weight Llama of the given shape, saved in bfloat16 with the seed's tokenizer."""
    cfg = AutoConfig.for_model("llama", vocab_size=49152, tie_word_embeddings=False, **config_kwargs)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(str(out))
    del model
    return out


SHAPES = {
    "1.7B": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
             "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 8192},
    "7B": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--reference", type=Path, help="the CPU run's JSON: answers to compare with")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/acdc-gpu-bench"))
    ap.add_argument("--agree-prompts", type=int, default=64)
    ap.add_argument("--agree-tokens", type=int, default=48)
    ap.add_argument("--big", default="1.7B,7B", help="random-weight shapes to time on the GPU ('' for none)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    results: dict = {"device": a.device, "torch": torch.__version__}
    if a.device.startswith("cuda"):
        results["gpu"] = torch.cuda.get_device_name()

    def report(name: str, value) -> None:
        results[name] = value
        print(name, json.dumps(value), flush=True)
        a.out.write_text(json.dumps(results, indent=1))

    smol = a.work / "smollm2"
    convert_gguf(a.gguf, smol, "bfloat16")
    ask = prompts(a.agree_prompts)
    dtypes = ["float32"] if a.device == "cpu" else ["float32", "bfloat16"]
    for dtype in dtypes:
        backend = HFBackend(str(smol), device=a.device, dtype=dtype, batch_size=64)
        answers = [g.text for g in backend.generate(ask, a.agree_tokens)]
        entry = {"answers": answers}
        if a.reference:
            ref = json.loads(a.reference.read_text())["smollm2_float32"]["answers"]
            entry["agree_with_cpu_float32"] = sum(x == y for x, y in zip(answers, ref)) / len(ref)
        report(f"smollm2_{dtype}", entry)
        if a.device != "cpu":
            for bs in (64, 256):
                backend.batch_size = bs
                report(f"smollm2_{dtype}_throughput_bs{bs}", throughput(backend, 1024, 512, a.device))
        backend.close()
    if a.device == "cpu":
        return
    report("smollm2_swap", swap_vs_restart(smol, a.device, "bfloat16", 3))
    for name in filter(None, a.big.split(",")):
        folder = random_model(SHAPES[name], smol, a.work / name, a.device)
        report(f"{name}_swap", swap_vs_restart(folder, a.device, "bfloat16", 2))
        backend = HFBackend(str(folder), device=a.device, dtype="bfloat16", batch_size=64)
        report(f"{name}_throughput_bs64", throughput(backend, 64, 256, a.device))
        backend.close()
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
