"""Cheap gibberish heuristic (ALGORITHM.md step 4), run on a few responses of a new model.

A response is gibberish when it repeats itself (share of repeated word 3-grams), compresses too
well (zlib size / raw size below a floor: long runs of the same thing), is mostly non-text
characters, or is empty.  A model is gibberish when most of its sampled responses are.
"""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class GibberishVerdict:
    """``is_gibberish`` with the measured ratios and, when flagged, the first failing reason."""

    is_gibberish: bool
    repeat_ratio: float
    compression_ratio: float
    non_text_ratio: float
    reason: str | None = None


def repeat_ratio(text: str) -> float:
    """Share of word 3-grams that are repeats of an earlier one, in [0, 1]; 0 for < 3 words."""
    words = text.split()
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def compression_ratio(text: str) -> float:
    """zlib-compressed size / raw size of the UTF-8 text; 1.0 for texts under 64 bytes."""
    raw = text.encode()
    return 1.0 if len(raw) < 64 else len(zlib.compress(raw, 9)) / len(raw)


def non_text_ratio(text: str) -> float:
    """Share of characters that are neither letters, digits, punctuation nor whitespace."""
    if not text:
        return 0.0
    ok = sum(1 for ch in text if unicodedata.category(ch)[0] in "LNPZ" or ch in "\n\t+-*/=<>^|~$")
    return 1.0 - ok / len(text)


def judge_response(
    text: str, max_repeat_ratio: float, min_compression_ratio: float, max_non_text_ratio: float
) -> GibberishVerdict:
    """Classify one response against the three thresholds."""
    r, c, n = repeat_ratio(text), compression_ratio(text), non_text_ratio(text)
    reason = None
    if not text.strip():
        reason = "empty response"
    elif r > max_repeat_ratio:
        reason = f"repeated 3-grams {r:.2f} > {max_repeat_ratio}"
    elif c < min_compression_ratio:
        reason = f"compression ratio {c:.2f} < {min_compression_ratio}"
    elif n > max_non_text_ratio:
        reason = f"non-text characters {n:.2f} > {max_non_text_ratio}"
    return GibberishVerdict(reason is not None, r, c, n, reason)


def judge_model(responses: list[str], **thresholds: float) -> GibberishVerdict:
    """A model is gibberish when more than half of ``responses`` are; the verdict carries the
    mean ratios and the reasons of the flagged responses.

    Raises:
        ValueError: on an empty ``responses`` list.
    """
    if not responses:
        raise ValueError("judge_model needs at least one response")
    verdicts = [judge_response(t, **thresholds) for t in responses]
    bad = [v for v in verdicts if v.is_gibberish]
    k = len(verdicts)
    return GibberishVerdict(
        is_gibberish=len(bad) * 2 > k,
        repeat_ratio=sum(v.repeat_ratio for v in verdicts) / k,
        compression_ratio=sum(v.compression_ratio for v in verdicts) / k,
        non_text_ratio=sum(v.non_text_ratio for v in verdicts) / k,
        reason="; ".join(v.reason for v in bad) if len(bad) * 2 > k else None,
    )
