"""Answer extraction from a model's free-form response (ALGORITHM.md step 5)."""

from __future__ import annotations

import re

from acdc_core.text import clean_text

RESPONSE_CHARS = 16_000
_HASHES = re.compile(r"####\s*(.+)")
_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:：]\s*(.+)", re.IGNORECASE)


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}``, braces balanced; None if absent or unclosed."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i, depth = start + len("\\boxed{"), 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


def extract_answer(response: str) -> str | None:
    """The final answer in ``response``, or None when it has no answer marker.

    Markers, in priority order: the last ``\\boxed{...}``; the text after the last ``####``; the
    text after the last ``Answer:`` (case-insensitive, "answer is:" too), up to the line's end.
    Surrounding whitespace, trailing full stops and markdown emphasis are stripped.
    """
    found = _last_boxed(response)
    if found is None:
        for pattern in (_HASHES, _ANSWER):
            matches = pattern.findall(response)
            if matches:
                found = matches[-1]
                break
    if found is None:
        return None
    return found.strip().strip("*").strip().rstrip(".").strip() or None


def submission_for(response: str) -> str:
    """What a task's ``score()`` receives: the extracted answer, else the whole stripped response."""
    answer = extract_answer(response)
    return answer if answer is not None else response.strip()


def clean_output(text: str, max_chars: int = RESPONSE_CHARS) -> str:
    """Model output made safe to score and store: lone surrogates (invalid UTF-8 from a remote
    server) and NUL bytes become U+FFFD, and text over ``max_chars`` characters is cut there with
    a ``[truncated: N more characters]`` marker.  Everything else, framing look-alikes included,
    is kept as data."""
    text = clean_text(text)
    if len(text) > max_chars:
        text = f"{text[:max_chars]}[truncated: {len(text) - max_chars} more characters]"
    return text
