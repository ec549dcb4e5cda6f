"""The functions copied into every family the template scientist renders
(:mod:`acdc_core.scientist.templates`): helpers the instance generators call and the scorers.

They are copied with :func:`inspect.getsource` under their own names, so each uses only its
arguments, the stdlib modules the sandbox preloads and the functions copied beside it; the
leading underscore is the name a rendered family calls them by, not privacy to this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from acdc_core.numbers import numbers_in as _numbers  # its source is copied into rendered families


def _ordinal(n):
    """``n`` as an English ordinal: 1st, 2nd, 3rd, 4th, ..., 11th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _printed(code):
    """The last line the Python snippet ``code`` prints."""
    lines = []
    exec(code, {"print": lambda *args: lines.append(" ".join(str(a) for a in args))})  # noqa: S102 - our own snippet
    return lines[-1]


def _score_number(t, submission):
    """1.0 when the last number of the submission equals the answer."""
    found = _numbers(submission)
    return 1.0 if found and found[-1] == float(t["answer"]) else 0.0


def _score_numbers(t, submission):
    """1.0 when the submission's numbers are exactly the answer's numbers, in order."""
    found = _numbers(submission)
    return 1.0 if found and found == _numbers(t["answer"]) else 0.0


def _tokens(text):
    """Lower-case words and numbers of ``text``; quotes and ordinal suffixes ("3rd") dropped."""
    text = re.sub(r"['\u2018\u2019`]", "", (text or "").lower())
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    return re.findall(r"-?\d+(?:\.\d+)?|[a-z]+", text)


def _score_text(t, submission):
    """1.0 when the submission is the answer, or a short sentence holding it unambiguously:
    no other option of the task is named, and no other single letter for a one-letter answer."""
    got, want = _tokens(submission), _tokens(t["answer"])

    def holds(seq):
        return any(got[i : i + len(seq)] == seq for i in range(len(got) - len(seq) + 1))

    if got == want:
        return 1.0
    if not want or len(got) > len(want) + 12 or not holds(want):
        return 0.0
    rivals = [_tokens(o) for o in t.get("options", [])]
    if any(r != want and holds(r) for r in rivals):
        return 0.0
    if len(want) == 1 and len(want[0]) == 1 and any(len(w) == 1 and w.isalpha() and w != want[0] for w in got):
        return 0.0
    return 1.0


# Scoring key -> the functions copied into a family; score() calls the last one.
SCORERS: dict[str, tuple[Callable, ...]] = {
    "number": (_numbers, _score_number),
    "numbers": (_numbers, _score_numbers),
    "text": (_tokens, _score_text),
}
