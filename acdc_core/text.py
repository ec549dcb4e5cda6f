"""The one cleaning every string gets before it is stored or crosses the sandbox boundary."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates (unencodable in UTF-8)


def clean_text(text: str) -> str:
    """``text`` with each NUL character and each lone surrogate replaced by one U+FFFD; everything
    else, valid non-ASCII included, is kept."""
    return _UNSTORABLE.sub("\ufffd", text)
