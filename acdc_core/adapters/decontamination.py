"""Benchmark contamination: does any benchmark item share a word 13-gram with our text?

The n-grams and their normalisation (lower case, punctuation deleted) are lm-eval's
(``lm_eval.decontamination.janitor``), the GPT-3 paper's 13-gram rule.  Used to check that no
benchmark item reaches the task pool or the seed-expert training data: the run must never
optimise for the benchmarks it is judged on.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable

# lm-eval prints a traceback when its optional C++ helper is missing; the Python path is the one
# we use, so that noise is swallowed.
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    from lm_eval.decontamination.janitor import Janitor, word_ngrams

NGRAM = 13


class BenchmarkNgrams:
    """The n-gram set of a collection of benchmark texts.

    Args:
        texts: benchmark items (question, passage, choices ...), one string each.
        n: the n-gram length in words (13 as in lm-eval).
    """

    def __init__(self, texts: Iterable[str], n: int = NGRAM):
        self._janitor = Janitor(ngram_n=n)
        self.n = n
        for t in texts:
            self._janitor.register_contaminant_python(t)

    def __len__(self) -> int:
        return len(self._janitor.dirt_ngrams)

    def shared(self, text: str) -> set[str]:
        """The n-grams ``text`` shares with the benchmark texts (empty when clean)."""
        return set(word_ngrams(self._janitor.normalize_string(text), self.n)) & self._janitor.dirt_ngrams

    def contaminated(self, texts: Iterable[str]) -> list[int]:
        """Indices of ``texts`` sharing at least one n-gram with the benchmark texts."""
        return [i for i, t in enumerate(texts) if self.shared(t)]
