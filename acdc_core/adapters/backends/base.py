"""The batch protocol every model backend speaks (lm-evaluation-harness style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Generation:
    """One completion: ``text`` (special tokens removed), ``tokens`` generated, and ``seconds``
    of wall time (the batch's time divided evenly among its prompts)."""

    text: str
    tokens: int
    seconds: float


class ModelBackend(Protocol):
    """A loaded model that completes a batch of user prompts, greedily or sampled.

    ``nbytes`` is the memory the loaded model holds (bytes); a backend without it is never kept
    resident by :class:`acdc_core.adapters.backends.pool.ModelPool`.
    """

    nbytes: int

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        """One :class:`Generation` per prompt, in order: greedy at ``temperature`` 0, else sampled
        from the softmax at that temperature with the random stream ``seed`` (the same call gives
        the same answers; a prompt repeated in the batch gets independent draws)."""
        ...

    def load_weights(self, weights: dict) -> None:
        """Swap in another model of the same architecture, in place (a state dict by name)."""
        ...

    def close(self) -> None:
        """Release the model's memory."""
        ...
