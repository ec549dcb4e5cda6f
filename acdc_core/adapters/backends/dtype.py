"""The compute dtype a model runs in: ``evaluation.dtype``, with ``auto`` resolved per device."""

from __future__ import annotations


def resolve_dtype(dtype: str, device: str) -> str:
    """``dtype``, or for ``auto`` the fastest dtype that keeps the checkpoints' precision:

    - ``bfloat16`` on a CUDA GPU that supports it, and on a CPU with native bf16 dot products
      (AVX512-BF16 or AMX-BF16: oneDNN's bf16 matmuls there run about 3x float32's, measured on
      SmolLM2-135M's shapes on 2 cores, and a default generation's evaluation about 2x);
    - ``float32`` on any other CPU (bf16 is emulated there, slower than float32) or device.

    The weights are stored in bfloat16 by default, so bf16 compute reads them exactly; greedy
    answers may still differ from float32's on a few instances (numerics), which is why a run
    freezes the resolved dtype in its config when it starts.
    """
    if dtype != "auto":
        return dtype
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    if device == "cpu":
        caps = torch.cpu.get_capabilities()
        return "bfloat16" if caps.get("avx512_bf16") or caps.get("amx_bf16") else "float32"
    return "float32"
