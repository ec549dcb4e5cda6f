"""The one cleaning every string gets before it is stored or crosses the sandbox boundary."""

from __future__ import annotations


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (unencodable as UTF-8) and NUL characters replaced by
    U+FFFD; everything else, valid non-ASCII included, is kept.  Returns ``text`` itself when it
    is already clean."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
