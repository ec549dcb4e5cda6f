"""The one number parser of answers: the template scientist's scorers, the expert data's checks
and (as a copy, see below) the seed tasks' scorers read numbers in a model's answer with it.

``numbers_in(text)``: the numbers in ``text`` in order, as floats.  A unicode minus (U+2212) is a
minus; a comma between a digit and a group of exactly three digits is a thousands separator
("1,234" is 1234); any other comma separates numbers ("1,2" is 1 and 2).

Its source is copied verbatim, under its defining name ``_numbers``, into every family the
template scientist renders (:mod:`acdc_core.scientist.templates`), so it uses only ``re`` and
its argument; a changed source changes the rendered code and so those families' ids.  The seed
task files (``acdc_core/seed_tasks``) run alone in the sandbox and cannot import it: each keeps a
``_last_number`` with the same comma rule (no unicode minus), and ``tests/test_seed_tasks.py``
checks that they agree with this parser.
"""

import re


def _numbers(text):
    """The numbers in ``text`` in order (thousands separators and unicode minus normalised)."""
    text = (text or "").replace("\u2212", "-")
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]


numbers_in = _numbers
