"""The offline template scientist: a library of parametric task templates and the scientist
operations (harder, easier, novel related, novel new, reflect) over it.

Each :class:`Template` is data: a capability and domain, named variants (each a description
pattern), five difficulty levels (generator parameters, plus description-only words), an
instance generator and a scoring rule.  :func:`render` turns one (template, variant, level) into
a self-contained task-family source -- the generator, helpers and scorer are copied into it with
:func:`inspect.getsource`, so they must use only their arguments and the stdlib modules the
sandbox preloads.  :class:`TemplateScientist` answers in the same reply format as an LLM
scientist (one ```python block), choosing among :func:`catalogue` entries by operation.
"""

from __future__ import annotations

import datetime
import functools
import inspect
import pprint
import random
import re
import textwrap
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from acdc_core.numbers import numbers_in as _numbers  # its source is copied into rendered families
from acdc_core.scientist.base import TaskRequest
from acdc_core.scientist.replies import extract_code, fenced
from acdc_core.taskfamily import TaskFamilyError, read_metadata

N_INSTANCES = 8
UNSOLVABLE = "no archive model solves"


# --- helpers and scorers copied into the rendered families -------------------------------------


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


# --- instance generators: (rng, variant, params) -> {"question", "answer"[, "options"]} -------


def _gen_add_sub(rng, variant, p):
    """A chain of additions and/or subtractions of whole numbers."""
    while True:
        nums = [rng.randint(p["lo"], p["hi"]) for _ in range(p["terms"])]
        if variant == "mixed":
            signs = [rng.choice("+-") for _ in nums[1:]]
        else:
            signs = ["+" if variant == "add" else "-" for _ in nums[1:]]
        value = nums[0] + sum(n if s == "+" else -n for s, n in zip(signs, nums[1:]))
        if value >= 0 or p["negatives"]:
            break
    expr = str(nums[0]) + "".join(f" {s} {n}" for s, n in zip(signs, nums[1:]))
    return {"question": f"What is {expr}?", "answer": str(value)}


def _gen_multiply_divide(rng, variant, p):
    """A product, an exact quotient or a remainder of two whole numbers."""
    a, b = rng.randint(p["a_lo"], p["a_hi"]), rng.randint(p["b_lo"], p["b_hi"])
    if variant == "multiply":
        return {"question": f"What is {a} × {b}?", "answer": str(a * b)}
    if variant == "divide":
        return {"question": f"What is {a * b} divided by {b}?", "answer": str(a)}
    r = rng.randint(1, b - 1)
    return {"question": f"What is the remainder when {a * b + r} is divided by {b}?", "answer": str(r)}


def _gen_expressions(rng, variant, p):
    """An arithmetic expression mixing +, - and ×, valued with Python's own precedence."""

    def operand():
        n = rng.randint(p["lo"], p["hi"])
        return f"({-n})" if variant == "negatives" and rng.random() < 0.5 else str(n)

    while True:
        ops = [rng.choice("+-*") for _ in range(p["ops"])]
        if variant == "parentheses":
            expr = operand()
            for op in ops:
                expr = f"({expr} {op} {operand()})" if rng.random() < 0.5 else f"({operand()} {op} {expr})"
            expr = expr[1:-1]
        else:
            expr = operand() + "".join(f" {op} {operand()}" for op in ops)
        value = eval(expr)
        mixed = "*" in ops and set(ops) != {"*"}
        if mixed and abs(value) <= p["max_abs"] and (variant != "negatives" or "(-" in expr):
            return {"question": f"What is {expr.replace('*', '×')}?", "answer": str(value)}


def _gen_percentages(rng, variant, p):
    """A percentage of an amount, a fraction of an amount, or a price after a percentage change."""
    while True:
        base = rng.randint(1, p["base_max"] // p["base_step"]) * p["base_step"]
        if variant == "fraction_of":
            den = rng.randint(2, p["den_max"])
            num = rng.randint(1, 2 * den - 1 if p["improper"] else den - 1)
            if num % den and base * num % den == 0:
                return {"question": f"What is {num}/{den} of {base}?", "answer": str(base * num // den)}
            continue
        pct = rng.randrange(p["pct_lo"], p["pct_hi"] + 1, p["pct_step"])
        if base * pct % 100:
            continue
        part = base * pct // 100
        if variant == "percent_of":
            return {"question": f"What is {pct}% of {base}?", "answer": str(part)}
        up = pct >= 100 or rng.random() < 0.5
        return {
            "question": f"A price of {base} dollars is {'increased' if up else 'decreased'} by {pct}%. "
            "What is the new price in dollars?",
            "answer": str(base + part if up else base - part),
        }


def _gen_list_aggregate(rng, variant, p):
    """The sum, the largest value or the range of a list of integers."""
    nums = [rng.randint(p["lo"], p["hi"]) for _ in range(p["n"])]
    shown = ", ".join(str(n) for n in nums)
    if variant == "sum":
        return {"question": f"What is the sum of these numbers: {shown}?", "answer": str(sum(nums))}
    if variant == "maximum":
        return {"question": f"What is the largest number in this list: {shown}?", "answer": str(max(nums))}
    return {
        "question": f"What is the difference between the largest and the smallest number in this list: {shown}?",
        "answer": str(max(nums) - min(nums)),
    }


def _gen_list_reorder(rng, variant, p):
    """A list of distinct integers to sort or reverse; the answer is the whole new list."""
    while True:
        nums = rng.sample(range(p["lo"], p["hi"] + 1), p["n"])
        if variant == "sort_ascending":
            out, how = sorted(nums), "Sort these numbers from smallest to largest"
        elif variant == "sort_descending":
            out, how = sorted(nums, reverse=True), "Sort these numbers from largest to smallest"
        else:
            out, how = nums[::-1], "Write these numbers in reverse order"
        if out != nums:
            break
    shown = ", ".join(str(n) for n in nums)
    return {"question": f"{how}: {shown}. Write them separated by commas.", "answer": ", ".join(str(n) for n in out)}


def _gen_list_lookup(rng, variant, p):
    """A list of distinct integers and a question about one position in it."""
    nums = rng.sample(range(p["lo"], p["hi"] + 1), p["n"])
    shown = ", ".join(str(n) for n in nums)
    if variant == "nth_item":
        k = rng.randrange(p["n"])
        return {"question": f"What is the {_ordinal(k + 1)} number in this list: {shown}?", "answer": str(nums[k])}
    k = rng.randrange(p["n"] - 1)
    if variant == "position_of":
        return {
            "question": f"At which position (counting from 1) is the number {nums[k]} in this list: {shown}?",
            "answer": str(k + 1),
        }
    return {"question": f"Which number comes right after {nums[k]} in this list: {shown}?", "answer": str(nums[k + 1])}


def _gen_word_edit(rng, variant, p):
    """A word to reverse, to sort alphabetically, or to strip of its vowels."""
    while True:
        word = rng.choice(p["words"])
        if variant == "reverse":
            answer, question = word[::-1], f"Reverse the letters of the word '{word}'. Write the reversed word."
        elif variant == "sort_letters":
            answer = "".join(sorted(word))
            question = f"Write the letters of the word '{word}' in alphabetical order, as one word."
        else:
            answer = "".join(c for c in word if c not in "aeiou")
            question = f"Remove every vowel (a, e, i, o, u) from the word '{word}'. What is left?"
        if answer != word:
            return {"question": question, "answer": answer}


def _gen_letter_position(rng, variant, p):
    """A letter picked by its position in a word, a letter's position, or an alphabet shift."""
    abc = "abcdefghijklmnopqrstuvwxyz"
    if variant == "alphabet_shift":
        while True:
            start, shift = rng.randrange(26), rng.randint((p["shift"] + 1) // 2, p["shift"])
            if p["backwards"] and rng.random() < 0.5:
                shift = -shift
            end = (start + shift) % 26 if p["wrap"] else start + shift
            if 0 <= end < 26:
                break
        way = "after" if shift > 0 else "before"
        places = "place" if abs(shift) == 1 else "places"
        note = " (the alphabet wraps around: after 'z' comes 'a')" if p["wrap"] else ""
        return {"question": f"Which letter comes {abs(shift)} {places} {way} '{abc[start]}' in the alphabet{note}?",
                "answer": abc[end]}
    word = rng.choice(p["words"])
    if variant == "nth_letter":
        k = rng.randrange(len(word))
        return {"question": f"What is the {_ordinal(k + 1)} letter of the word '{word}'?", "answer": word[k]}
    letter = rng.choice(word)
    return {
        "question": f"At which position (counting from 1) does the letter '{letter}' first appear in the word '{word}'?",
        "answer": str(word.index(letter) + 1),
    }


def _gen_count_letters(rng, variant, p):
    """Count a letter or the vowels in a word or phrase, or the words of a text."""
    if variant == "words":
        n = rng.randint(p["text_lo"], p["text_hi"])
        text = " ".join(rng.choice(p["words"]) for _ in range(n))
        return {"question": f"How many words are in this text: '{text}'?", "answer": str(n)}
    text = " ".join(rng.sample(p["words"], p["n_words"]))
    what = "word" if p["n_words"] == 1 else "phrase"
    if variant == "vowels":
        return {"question": f"How many vowels (a, e, i, o, u) are in the {what} '{text}'?",
                "answer": str(sum(c in "aeiou" for c in text))}
    letter = rng.choice(text.replace(" ", ""))
    return {"question": f"How many times does the letter '{letter}' appear in the {what} '{text}'?",
            "answer": str(text.count(letter))}


def _gen_count_in_list(rng, variant, p):
    """Count the items of an integer list that equal a value, exceed a threshold, or are even."""
    pool = rng.sample(range(1, p["hi"] + 1), p["distinct"])
    nums = [rng.choice(pool) for _ in range(p["n"])]
    shown = ", ".join(str(n) for n in nums)
    if variant == "occurrences":
        x = rng.choice(nums)
        return {"question": f"How many times does the number {x} appear in this list: {shown}?",
                "answer": str(nums.count(x))}
    if variant == "greater_than":
        x = rng.randint(1, p["hi"] - 1)
        return {"question": f"How many numbers in this list are greater than {x}: {shown}?",
                "answer": str(sum(n > x for n in nums))}
    return {"question": f"How many even numbers are in this list: {shown}?", "answer": str(sum(n % 2 == 0 for n in nums))}


def _gen_number_compare(rng, variant, p):
    """Compare numbers drawn from one window (whole numbers or decimals of mixed precision)."""

    def draw(low):
        while True:
            places = rng.randint(min(1, p["places"]), p["places"])
            scale = 10**places
            x = rng.randint(low * scale, (low + p["spread"]) * scale)
            if places == 0 or x % 10:
                return f"{x / scale:.{places}f}"

    n = p["n"] if variant == "largest_of_list" else 2
    while True:
        low = rng.randint(p["lo"], p["hi"] - p["spread"])
        values = [draw(low) for _ in range(n)]
        if len({float(v) for v in values}) == n:
            break
    best = max(values, key=float)
    if variant == "is_greater":
        target = rng.choice(["yes", "no"])
        a, b = sorted(values, key=float, reverse=target == "yes")
        return {"question": f"Is {a} greater than {b}? Answer yes or no.", "answer": target, "options": ["yes", "no"]}
    if variant == "larger_of_two":
        return {"question": f"Which number is larger: {values[0]} or {values[1]}?", "answer": best, "options": values}
    return {"question": f"Which is the largest of these numbers: {', '.join(values)}?", "answer": best, "options": values}


def _gen_boolean_logic(rng, variant, p):
    """A parenthesised Python boolean expression; True and False answers are equally likely."""

    def operand():
        if variant == "comparisons":
            return f"{rng.randint(1, 9)} {rng.choice(['<', '>', '=='])} {rng.randint(1, 9)}"
        atom = rng.choice(["True", "False"])
        return f"not {atom}" if variant == "with_not" and rng.random() < 0.4 else atom

    target = rng.choice([True, False])
    while True:
        expr = operand()
        for _ in range(p["operands"] - 1):
            op = rng.choice(["and", "or"])
            expr = f"({expr} {op} {operand()})" if rng.random() < 0.5 else f"({operand()} {op} {expr})"
            if variant == "with_not" and rng.random() < 0.3:
                expr = f"(not {expr})"
        expr = expr[1:-1] if expr.startswith("(") and expr.endswith(")") else expr
        if eval(expr) == target and (variant != "with_not" or "not" in expr):
            return {"question": f"Is this Python expression True or False? {expr}",
                    "answer": str(target), "options": ["True", "False"]}


def _gen_ordering(rng, variant, p):
    """Comparisons chaining a few people into one order; ask who is first, last or second."""
    more, less, most, least = {
        "height": ("taller", "shorter", "tallest", "shortest"),
        "age": ("older", "younger", "oldest", "youngest"),
        "speed": ("faster", "slower", "fastest", "slowest"),
    }[variant]
    names = ["Ann", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
    people = rng.sample(names, p["people"])  # from most to least
    facts = []
    for i in range(1, len(people)):
        a, b = people[i - 1], people[i]
        inverted = p["inverted"] and rng.random() < 0.5
        facts.append(f"{b} is {less} than {a}." if inverted else f"{a} is {more} than {b}.")
    if p["shuffled"]:
        rng.shuffle(facts)
    ask = rng.randrange(3 if p["second"] else 2)
    question = [f"Who is the {most}?", f"Who is the {least}?", f"Who is the second {most}?"][ask]
    answer = [people[0], people[-1], people[1]][ask]
    return {"question": " ".join(facts) + " " + question, "answer": answer, "options": people}


def _gen_python_trace(rng, variant, p):
    """A short Python snippet (loop, list or string operations); the answer is what it prints."""
    form = p["form"]
    if variant == "loop_accumulate":
        n, k = rng.randint(2, 5), rng.randint(2, 9)
        code = [
            f"total = 0\nfor i in range({n}):\n    total += {k}",
            f"total = {k}\nfor i in range({n + 2}):\n    total += i",
            f"total = {k}\nfor i in range({n}, {n + rng.randint(3, 5)}):\n    total += i * {rng.randint(2, 4)}",
            (f"total = 0\nfor i in range({n + 4}):\n    if i % {rng.randint(2, 3)} == 0:\n"
             "        total += i\n    else:\n        total -= 1"),
            f"total = 0\nfor i in range({n}):\n    for j in range({k % 4 + 2}):\n        if i < j:\n            total += i + j",
        ][form - 1] + "\nprint(total)"
    elif variant == "list_ops":
        xs = [rng.randint(1, 20) for _ in range(7)]
        code = [
            f"xs = {xs[:3]}\nprint(xs[{rng.randint(0, 2)}])",
            f"xs = {xs[:3]}\nxs.append({xs[3]})\nprint(sum(xs))",
            f"xs = {xs[:5]}\nxs.pop()\nxs.insert(0, {xs[5]})\nprint(xs[-1] + xs[0])",
            f"xs = {xs[:6]}\nprint(sum(xs[{rng.randint(1, 2)}:{rng.randint(3, 5)}]))",
            f"xs = {xs}\nys = [x * 2 for x in xs if x > {rng.randint(5, 12)}]\nprint(sum(ys) - len(ys))",
        ][form - 1]
    else:
        while True:
            w = rng.choice(p["words"])
            c = rng.choice(w)
            code = "s = '" + w + "'\n" + [
                f"print(s[{rng.randrange(len(w))}])",
                f"print(s[{rng.randint(0, 1)}:{rng.randint(2, len(w) - 1)}])",
                "print(s[::-1])",
                f"print(s[-{rng.randint(2, 3)}:] + s[:{rng.randint(2, 3)}])",
                f"print(s.replace('{c}', '{rng.choice('xyz')}')[::2])",
            ][form - 1]
            if _printed(code) != w:
                break
    return {"question": f"What does this Python code print?\n\n{code}", "answer": _printed(code)}


def _gen_python_function(rng, variant, p):
    """A small Python function and a call to it; the answer is the printed result."""
    if variant == "recursive":
        c = rng.randint(1, 5)
        body = {
            "sum": f"    if n == 0:\n        return {c}\n    return n + f(n - 1)",
            "double": f"    if n == 0:\n        return {c}\n    return 2 * f(n - 1)",
            "step2": f"    if n <= 0:\n        return {c}\n    return n + f(n - 2)",
            "fib": "    if n < 2:\n        return n\n    return f(n - 1) + f(n - 2)",
        }[p["recursion"]]
        code = f"def f(n):\n{body}\n\nprint(f({rng.randint(2, p['n_max'])}))"
    else:
        a, b, t = rng.randint(1, p["a_max"]), rng.randint(1, 9), rng.randint(3, 12)
        if variant == "linear":
            body = f"    return {a} * x + {b}" if a > 1 else f"    return x + {b}"
        else:
            body = f"    if x > {t}:\n        return x - {a}\n    return x + {b}"
        call = str(rng.randint(1, 12))
        for _ in range(p["depth"]):
            call = f"f({call})"
        code = f"def f(x):\n{body}\n\nprint({call})"
    return {"question": f"What does this Python code print?\n\n{code}", "answer": _printed(code)}


def _gen_number_sequence(rng, variant, p):
    """An arithmetic, geometric or Fibonacci-like sequence with its next or a hidden term asked."""
    sign = (lambda: rng.choice([1, -1])) if p["signed"] else (lambda: 1)
    if variant == "arithmetic":
        a, d = rng.randint(p["lo"], p["hi"]), rng.randint(p["step_lo"], p["step_hi"]) * sign()
        terms = [a + k * d for k in range(p["shown"] + 1)]
    elif variant == "geometric":
        a, r = rng.randint(1, p["geo_start"]), rng.randint(2, p["ratio_hi"]) * sign()
        terms = [a * r**k for k in range(p["shown"] + 1)]
    else:
        terms = [rng.randint(p["lo"], p["hi"]), rng.randint(p["lo"], p["hi"])]
        while len(terms) <= p["shown"]:
            terms.append(terms[-1] + terms[-2])
    if p["missing"]:
        k = rng.randint(1, p["shown"] - 2)
        shown = ", ".join("?" if i == k else str(x) for i, x in enumerate(terms[: p["shown"]]))
        return {"question": f"Which number should replace the ? in this sequence: {shown}", "answer": str(terms[k])}
    shown = ", ".join(str(x) for x in terms[: p["shown"]])
    return {"question": f"What number comes next in this sequence: {shown}, ...?", "answer": str(terms[-1])}


def _gen_letter_sequence(rng, variant, p):
    """Letters moving forward, backward or with growing steps through the alphabet."""
    abc = "abcdefghijklmnopqrstuvwxyz"
    while True:
        step = rng.randint(p["step_lo"], p["step_hi"])
        steps = [step + k if variant == "growing" else step for k in range(p["shown"])]
        pos = [rng.randrange(26)]
        for s in steps:
            pos.append(pos[-1] - s if variant == "backward" else pos[-1] + s)
        if p["wrap"] or all(0 <= x < 26 for x in pos):
            break
    letters = [abc[x % 26] for x in pos]
    note = " (the alphabet wraps around between 'z' and 'a')" if p["wrap"] else ""
    return {"question": f"Which letter comes next in this sequence{note}: {', '.join(letters[:-1])}, ...?",
            "answer": letters[-1]}


def _gen_unit_conversion(rng, variant, p):
    """Convert an amount along a chain of units (down, mixed amounts, or back up)."""
    units, factors = {
        "length": (["kilometre", "metre", "centimetre", "millimetre"], [1000, 100, 10]),
        "duration": (["day", "hour", "minute", "second"], [24, 60, 60]),
        "mass": (["tonne", "kilogram", "gram", "milligram"], [1000, 1000, 1000]),
    }[variant]
    i = rng.randrange(len(units) - p["steps"])
    big, small, factor = units[i], units[i + p["steps"]], 1
    for f in factors[i : i + p["steps"]]:
        factor *= f
    q = rng.randint(2, p["q_max"])
    if p["mode"] == "down":
        return {"question": f"How many {small}s are in {q} {big}s?", "answer": str(q * factor)}
    if p["mode"] == "mixed":
        r = rng.randint(2, factor - 1)
        return {"question": f"How many {small}s are in {q} {big}s and {r} {small}s?", "answer": str(q * factor + r)}
    return {"question": f"How many {big}s are in {q * factor} {small}s?", "answer": str(q)}


def _gen_clock_time(rng, variant, p):
    """Clock arithmetic: a time plus or minus a duration, or the minutes between two times."""

    def show(m):
        h, mm = divmod(m % 1440, 60)
        return f"{h:02d}:{mm:02d}" if p["clock24"] else f"{h}:{mm:02d}"

    def duration(d):
        h, m = divmod(d, 60)
        parts = [f"{h} hour{'s' * (h != 1)}"] if h else []
        return " and ".join(parts + ([f"{m} minute{'s' * (m != 1)}"] if m else []))

    while True:
        start = rng.randrange(p["start_lo"], p["start_hi"], p["start_step"])
        d = rng.randrange(p["d_lo"], p["d_hi"] + 1, p["d_step"])
        end = start - d if variant == "subtract_duration" else start + d
        if p["wrap"]:
            ok = not 0 <= end < 1440
        else:
            ok = p["start_lo"] <= end < p["end_hi"] and (not p["same_hour"] or end // 60 == start // 60)
        if ok:
            break
    form = " Give the time in 24-hour HH:MM form." if p["clock24"] else " Give the time as H:MM."
    if variant == "add_duration":
        return {"question": f"What time is it {duration(d)} after {show(start)}?{form}", "answer": show(end)}
    if variant == "subtract_duration":
        return {"question": f"What time was it {duration(d)} before {show(start)}?{form}", "answer": show(end)}
    day = " the next day" if end >= 1440 else ""
    return {"question": f"How many minutes are there from {show(start)} to {show(end)}{day}?", "answer": str(d)}


def _gen_calendar(rng, variant, p):
    """Calendar arithmetic: weekday after some days, date after some days, days between dates."""
    days = rng.randint(p["d_lo"], p["d_hi"])
    if variant == "weekday_after":
        week = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        i = rng.randrange(7)
        return {"question": f"Today is {week[i]}. What day of the week will it be in {days} days?",
                "answer": week[(i + days) % 7], "options": week}
    months = ["January", "February", "March", "April", "May", "June", "July",
              "August", "September", "October", "November", "December"]
    while True:
        start = datetime.date(rng.choice(p["years"]), rng.randint(1, 12), rng.randint(1, 28))
        end = start + datetime.timedelta(days=days)
        if end.year == start.year and (end.month == start.month or not p["same_month"]) or p["show_year"]:
            break

    def show(d):
        return f"{months[d.month - 1]} {d.day}, {d.year}" if p["show_year"] else f"{months[d.month - 1]} {d.day}"

    year = "" if p["show_year"] else f" (the year is {start.year})"
    if variant == "date_after":
        return {"question": f"What date is {days} days after {show(start)}{year}?", "answer": show(end)}
    return {"question": f"How many days are there from {show(start)} to {show(end)}{year}?", "answer": str(days)}


def _gen_word_problem(rng, variant, p):
    """A short story problem about shopping, sharing or travelling."""
    name = rng.choice(["Ann", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana"])
    form = p["form"]
    if variant == "shopping":
        bought, total = [], 0
        for item in rng.sample(["apple", "pen", "book", "cake", "ball", "cup", "hat", "kite"], p["items"]):
            qty, price = rng.randint(2, p["q_max"]), rng.randint(2, p["p_max"])
            bought.append(f"{qty} {item}s at {price} dollars each")
            total += qty * price
        what = ", ".join(bought[:-1]) + " and " + bought[-1] if len(bought) > 1 else bought[0]
        if p["change"]:
            note = next(n for n in (10, 20, 50, 100, 200, 500, 1000) if n > total)
            return {"question": f"{name} buys {what} and pays with a {note}-dollar note. "
                    f"How many dollars of change does {name} get?", "answer": str(note - total)}
        return {"question": f"{name} buys {what}. How many dollars does {name} pay in total?", "answer": str(total)}
    if variant == "sharing":
        each, kids = rng.randint(2, 4 + 3 * form), rng.randint(2, 1 + 2 * form)
        if form <= 2:
            return {"question": f"{each * kids} sweets are shared equally among {kids} children. "
                    "How many sweets does each child get?", "answer": str(each)}
        if form == 3:
            left = rng.randint(1, kids - 1)
            return {"question": f"{each * kids + left} sweets are shared equally among {kids} children, "
                    "each getting as many as possible. How many sweets are left over?", "answer": str(left)}
        trays, per = rng.randint(2, 9), rng.choice([6, 8, 10, 12, 16, 20, 24])
        box = rng.choice([d for d in range(2, per) if per % d == 0])
        boxes = trays * per // box
        story = f"{name} bakes {trays} trays of {per} cookies and packs them into boxes of {box}."
        if form == 4:
            return {"question": f"{story} How many boxes does {name} fill?", "answer": str(boxes)}
        sold = rng.randint(1, boxes - 1)
        return {"question": f"{story} Then {name} sells {sold} boxes. How many boxes are left?",
                "answer": str(boxes - sold)}
    if form == 1:
        speed, hours = rng.randint(2, 5), rng.randint(2, 3)
    else:
        speed, hours = rng.randrange(10, 95, 5), rng.randint(2, 6)
    if form <= 2:
        return {"question": f"{name} travels {speed} km every hour. How many km does {name} travel in {hours} hours?",
                "answer": str(speed * hours)}
    if form == 3:
        return {"question": f"How many hours does it take {name} to travel {speed * hours} km at {speed} km per hour?",
                "answer": str(hours)}
    while True:
        speed2, hours2 = rng.randrange(10, 95, 5), rng.randint(2, 4)
        dist = speed * hours + speed2 * hours2
        if form == 4 or dist % (hours + hours2) == 0:
            break
    legs = f"{name} drives {hours} hours at {speed} km per hour and then {hours2} hours at {speed2} km per hour."
    if form == 4:
        return {"question": f"{legs} How many km does {name} drive in total?", "answer": str(dist)}
    return {"question": f"{legs} What is {name}'s average speed for the whole trip, in km per hour?",
            "answer": str(dist // (hours + hours2))}


# --- the template library -----------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A parametric task template.

    Attributes:
        name: identifier, the first part of every family name made from it.
        capability: the skill probed (families of one capability are "related").
        domain: the METADATA domain.
        variants: variant name -> description pattern, formatted with the level's ``params`` and
            ``notes``.
        generate: ``(rng, variant, params) -> instance`` with "question" and "answer" (and
            "options" for a choice); copied into the family source.
        params: generator parameters, one dict per level, easiest first.
        notes: description-only words per level (not copied into the family source).
        scoring: the :data:`SCORERS` key, or a dict variant -> key.
        helpers: further functions ``generate`` calls (copied into the family source).
        imports: stdlib modules ``generate`` needs besides ``random`` and ``re``.
    """

    name: str
    capability: str
    domain: str
    variants: dict[str, str]
    generate: Callable
    params: tuple[dict, ...]
    notes: tuple[dict, ...] = ()
    scoring: str | dict[str, str] = "number"
    helpers: tuple[Callable, ...] = ()
    imports: tuple[str, ...] = ()

    def scorer(self, variant: str) -> str:
        """The scoring key of ``variant``."""
        return self.scoring if isinstance(self.scoring, str) else self.scoring[variant]

    def describe(self, variant: str, level: int) -> str:
        """The METADATA description of (``variant``, ``level``)."""
        notes = self.notes[level - 1] if self.notes else {}
        return self.variants[variant].format(**self.params[level - 1], **notes)


_WORDS = (
    ("three-letter everyday", "cat dog sun hat pen cup box bus map bed egg jam fox pig cow owl net bag ant bee"),
    ("four- or five-letter common",
     "tree fish milk bird cake frog door lamp ship rain house plant water table green mouse river chair bread light"),
    ("six- or seven-letter",
     "garden pencil bottle window basket rocket silver turtle kitchen blanket monster cabinet freedom picture journey"),
    ("eight- or nine-letter",
     ("elephant mountain umbrella dinosaur sandwich calendar treasure hospital painting triangle astronaut "
      "chocolate butterfly telescope vegetable")),
    ("rare, ten-plus-letter",
     ("ambivalence bureaucracy chrysanthemum idiosyncrasy onomatopoeia perspicacious quintessence rhododendron "
      "serendipity surreptitious vicissitude obfuscation paraphernalia juxtaposition mellifluous")),
)


def _word_levels(**per_level: tuple) -> tuple[dict, ...]:
    """Level params holding the level's vocabulary plus ``per_level`` values (one per level)."""
    return tuple({"words": words.split(), **{k: v[i] for k, v in per_level.items()}}
                 for i, (_, words) in enumerate(_WORDS))


# Description words for the five vocabulary levels.
_SIZES = tuple({"size": size} for size, _ in _WORDS)

_TEMPLATES = (
    Template(
        "add_sub", "arithmetic", "math",
        {
            "add": "Mental addition: add {count} {size} whole numbers written as 'What is a + b?' and give the sum.",
            "subtract": "Subtraction drill: subtract {size} whole numbers in a chain of {count} terms "
                        "({sign}) and give the difference.",
            "mixed": "Evaluate a left-to-right chain of plus and minus signs over {count} {size} numbers ({sign}).",
        },
        _gen_add_sub,
        (
            {"terms": 2, "lo": 1, "hi": 9, "negatives": False},
            {"terms": 2, "lo": 10, "hi": 99, "negatives": False},
            {"terms": 2, "lo": 100, "hi": 999, "negatives": False},
            {"terms": 3, "lo": 100, "hi": 999, "negatives": False},
            {"terms": 4, "lo": 1000, "hi": 9999, "negatives": True},
        ),
        tuple({"count": c, "size": s, "sign": g} for c, s, g in [
            ("two", "one-digit", "never negative"), ("two", "two-digit", "never negative"),
            ("two", "three-digit", "never negative"), ("three", "three-digit", "never negative"),
            ("four", "four-digit", "the result may be negative")]),
    ),
    Template(
        "multiply_divide", "arithmetic", "math",
        {
            "multiply": "Multiplication facts: multiply {sizes} and give the product.",
            "divide": "Exact division: divide a product by one of its factors, where quotient and divisor are "
                      "{sizes}.",
            "remainder": "Integer division with remainder: give the remainder of a division whose quotient and "
                         "divisor are {sizes}.",
        },
        _gen_multiply_divide,
        (
            {"a_lo": 2, "a_hi": 5, "b_lo": 2, "b_hi": 5},
            {"a_lo": 2, "a_hi": 9, "b_lo": 2, "b_hi": 9},
            {"a_lo": 10, "a_hi": 99, "b_lo": 2, "b_hi": 9},
            {"a_lo": 10, "a_hi": 99, "b_lo": 10, "b_hi": 99},
            {"a_lo": 100, "a_hi": 999, "b_lo": 10, "b_hi": 99},
        ),
        tuple({"sizes": s} for s in [
            "two small numbers from 2 to 5", "two one-digit numbers", "a two-digit and a one-digit number",
            "two two-digit numbers", "a three-digit and a two-digit number"]),
    ),
    Template(
        "expressions", "arithmetic", "math",
        {
            "precedence": "Order of operations: evaluate a flat expression with {ops} operators (+, -, ×) on "
                          "numbers from {lo} to {hi}, multiplying before adding.",
            "parentheses": "Evaluate a nested arithmetic expression with parentheses and {ops} operations on "
                           "numbers from {lo} to {hi}.",
            "negatives": "Signed arithmetic: evaluate an expression with {ops} operations where some of the "
                         "numbers from {lo} to {hi} are negative.",
        },
        _gen_expressions,
        (
            {"ops": 2, "lo": 1, "hi": 5, "max_abs": 50},
            {"ops": 2, "lo": 1, "hi": 9, "max_abs": 100},
            {"ops": 3, "lo": 1, "hi": 12, "max_abs": 500},
            {"ops": 4, "lo": 2, "hi": 20, "max_abs": 2000},
            {"ops": 5, "lo": 2, "hi": 30, "max_abs": 5000},
        ),
    ),
    Template(
        "percentages", "arithmetic", "math",
        {
            "percent_of": "Percentages: work out {pct} of an amount that is one of the {bases}.",
            "fraction_of": "Fractions of a quantity: take {fracs} of a whole number among the {bases}.",
            "percent_change": "Price change: apply a percentage increase or decrease ({pct}) to a price that is "
                              "one of the {bases}.",
        },
        _gen_percentages,
        (
            {"base_max": 100, "base_step": 10, "pct_lo": 50, "pct_hi": 100, "pct_step": 50, "den_max": 2,
             "improper": False},
            {"base_max": 200, "base_step": 20, "pct_lo": 25, "pct_hi": 100, "pct_step": 25, "den_max": 4,
             "improper": False},
            {"base_max": 400, "base_step": 20, "pct_lo": 5, "pct_hi": 95, "pct_step": 5, "den_max": 6,
             "improper": False},
            {"base_max": 2000, "base_step": 100, "pct_lo": 1, "pct_hi": 99, "pct_step": 1, "den_max": 10,
             "improper": False},
            {"base_max": 5000, "base_step": 20, "pct_lo": 101, "pct_hi": 250, "pct_step": 1, "den_max": 12,
             "improper": True},
        ),
        (
            {"pct": "50% or 100%", "fracs": "one half", "bases": "multiples of 10 up to 100"},
            {"pct": "multiples of 25%", "fracs": "fractions with denominators up to 4",
             "bases": "multiples of 20 up to 200"},
            {"pct": "multiples of 5%", "fracs": "fractions with denominators up to 6",
             "bases": "multiples of 20 up to 400"},
            {"pct": "any whole percentage below 100%", "fracs": "fractions with denominators up to 10",
             "bases": "multiples of 100 up to 2000"},
            {"pct": "percentages from 101% to 250%", "fracs": "improper fractions with denominators up to 12",
             "bases": "multiples of 20 up to 5000"},
        ),
    ),
    Template(
        "list_aggregate", "lists", "data",
        {
            "sum": "Add up a list of {n} integers between {lo} and {hi} and give the total.",
            "maximum": "Scan a list of {n} integers between {lo} and {hi} and name its largest value.",
            "spread": "Compute the range (largest minus smallest) of a list of {n} integers between {lo} and {hi}.",
        },
        _gen_list_aggregate,
        (
            {"n": 3, "lo": 1, "hi": 9},
            {"n": 4, "lo": 1, "hi": 20},
            {"n": 6, "lo": 1, "hi": 50},
            {"n": 8, "lo": 1, "hi": 100},
            {"n": 10, "lo": -50, "hi": 100},
        ),
    ),
    Template(
        "list_reorder", "lists", "data",
        {
            "sort_ascending": "Sort a list of {n} distinct integers between {lo} and {hi} into increasing order "
                              "and write the whole list.",
            "sort_descending": "Sort {n} distinct integers from {lo} to {hi} from largest to smallest, writing "
                               "the full sorted list.",
            "reverse": "Write a list of {n} distinct integers (range {lo} to {hi}) back to front.",
        },
        _gen_list_reorder,
        (
            {"n": 3, "lo": 1, "hi": 9},
            {"n": 4, "lo": 1, "hi": 30},
            {"n": 6, "lo": 1, "hi": 99},
            {"n": 8, "lo": 1, "hi": 999},
            {"n": 10, "lo": -99, "hi": 999},
        ),
        scoring="numbers",
    ),
    Template(
        "list_lookup", "lists", "data",
        {
            "nth_item": "Indexing: give the item at a stated 1-based position of a list of {n} distinct integers "
                        "from {lo} to {hi}.",
            "position_of": "Search: give the 1-based position of a value in a list of {n} distinct integers "
                           "from {lo} to {hi}.",
            "item_after": "Successor lookup: name the number right after a given value in a list of {n} "
                          "distinct integers from {lo} to {hi}.",
        },
        _gen_list_lookup,
        (
            {"n": 4, "lo": 1, "hi": 9},
            {"n": 6, "lo": 1, "hi": 30},
            {"n": 8, "lo": 1, "hi": 99},
            {"n": 11, "lo": 1, "hi": 99},
            {"n": 15, "lo": 100, "hi": 999},
        ),
        helpers=(_ordinal,),
    ),
    Template(
        "word_edit", "strings", "text",
        {
            "reverse": "Spell a {size} word backwards, letter by letter.",
            "sort_letters": "Rearrange the letters of a {size} word into alphabetical order.",
            "remove_vowels": "Delete the vowels a, e, i, o, u from a {size} word and write the consonants left.",
        },
        _gen_word_edit,
        _word_levels(),
        _SIZES,
        scoring="text",
    ),
    Template(
        "letter_position", "strings", "text",
        {
            "nth_letter": "Name the letter at a given 1-based position of a {size} word.",
            "letter_index": "Give the 1-based position where a letter first occurs in a {size} word.",
            "alphabet_shift": "Alphabet arithmetic: name the letter up to {shift} places {direction} a given "
                              "letter in the alphabet.",
        },
        _gen_letter_position,
        _word_levels(shift=(1, 2, 4, 8, 13), backwards=(False, False, True, True, True),
                     wrap=(False, False, False, False, True)),
        tuple({**s, "direction": d} for s, d in zip(_SIZES, [
            "after", "after", "before or after", "before or after", "before or after (wrapping from z to a)"])),
        scoring={"nth_letter": "text", "letter_index": "number", "alphabet_shift": "text"},
        helpers=(_ordinal,),
    ),
    Template(
        "count_letters", "counting", "text",
        {
            "letter": "Count how many times a chosen letter occurs in {text}.",
            "vowels": "Count the vowels (a, e, i, o, u) in {text}.",
            "words": "Count the words of a text of {text_lo} to {text_hi} {size} words.",
        },
        _gen_count_letters,
        _word_levels(n_words=(1, 1, 1, 2, 3), text_lo=(2, 3, 5, 8, 12), text_hi=(4, 6, 9, 13, 18)),
        tuple({**s, "text": t} for s, t in zip(_SIZES, [
            "a three-letter everyday word", "a four- or five-letter word", "a six- or seven-letter word",
            "a phrase of two eight- or nine-letter words", "a phrase of three rare words of ten or more letters"])),
    ),
    Template(
        "count_in_list", "counting", "data",
        {
            "occurrences": "Tally how often a value repeats in a list of {n} integers drawn from {distinct} "
                           "values up to {hi}.",
            "greater_than": "Count the items above a threshold in a list of {n} integers ({distinct} distinct "
                            "values up to {hi}).",
            "even": "Count the even numbers in a list of {n} integers ({distinct} distinct values up to {hi}).",
        },
        _gen_count_in_list,
        (
            {"n": 4, "hi": 5, "distinct": 3},
            {"n": 6, "hi": 9, "distinct": 4},
            {"n": 9, "hi": 20, "distinct": 5},
            {"n": 12, "hi": 50, "distinct": 6},
            {"n": 16, "hi": 99, "distinct": 8},
        ),
    ),
    Template(
        "number_compare", "comparison", "math",
        {
            "is_greater": "Answer yes or no: is the first of two {kind} greater than the second?",
            "larger_of_two": "Pick the larger of two {kind}.",
            "largest_of_list": "Pick the largest of {n} {kind}.",
        },
        _gen_number_compare,
        (
            {"lo": 1, "hi": 9, "spread": 8, "places": 0, "n": 3},
            {"lo": 10, "hi": 99, "spread": 89, "places": 0, "n": 3},
            {"lo": 1000, "hi": 9999, "spread": 60, "places": 0, "n": 4},
            {"lo": 0, "hi": 1, "spread": 1, "places": 2, "n": 4},
            {"lo": -10, "hi": 10, "spread": 2, "places": 3, "n": 5},
        ),
        tuple({"kind": k} for k in [
            "one-digit whole numbers", "two-digit whole numbers", "four-digit whole numbers within 60 of each other",
            "decimals between 0 and 1 with one or two decimal places (like 0.7 and 0.65)",
            "signed decimals between -10 and 10 with up to three decimal places, close together"]),
        scoring="text",
    ),
    Template(
        "boolean_logic", "logic", "reasoning",
        {
            "and_or": "Evaluate a parenthesised Python boolean expression joining {operands} True/False literals "
                      "with and/or.",
            "with_not": "Evaluate a Python boolean expression of {operands} literals using and, or and not, "
                        "including negated groups.",
            "comparisons": "Decide whether a Python condition chaining {operands} numeric comparisons (<, >, ==) "
                           "with and/or is True or False.",
        },
        _gen_boolean_logic,
        tuple({"operands": n} for n in (2, 3, 4, 5, 6)),
        scoring="text",
    ),
    Template(
        "ordering", "logic", "reasoning",
        {
            "height": "Height puzzle: from {clues} relating {people} people ('X is taller than Y'), name the "
                      "tallest or shortest{extra}.",
            "age": "Age ordering: given {clues} about {people} people ('X is older than Y'), say who is oldest "
                   "or youngest{extra}.",
            "speed": "Race ranking: {clues} compare {people} runners ('X is faster than Y'); name the fastest or "
                     "slowest{extra}.",
        },
        _gen_ordering,
        (
            {"people": 2, "shuffled": False, "inverted": False, "second": False},
            {"people": 3, "shuffled": False, "inverted": False, "second": False},
            {"people": 3, "shuffled": True, "inverted": False, "second": False},
            {"people": 4, "shuffled": True, "inverted": True, "second": False},
            {"people": 5, "shuffled": True, "inverted": True, "second": True},
        ),
        tuple({"clues": c, "extra": e} for c, e in [
            ("one comparison", ""), ("two comparisons given in chain order", ""),
            ("two comparisons in shuffled order", ""), ("three shuffled comparisons, some stated in reverse", ""),
            ("four shuffled comparisons, some stated in reverse", ", or the one in second place")]),
        scoring="text",
    ),
    Template(
        "python_trace", "code", "programming",
        {
            "loop_accumulate": "Predict the number printed by a Python snippet with {loop}.",
            "list_ops": "Predict what a Python snippet prints after {list_op}.",
            "string_ops": "Predict the text a Python snippet prints after {string_op} on a {size} word.",
        },
        _gen_python_trace,
        _word_levels(form=(1, 2, 3, 4, 5)),
        tuple({**s, "loop": lo, "list_op": li, "string_op": st} for s, lo, li, st in zip(_SIZES, [
            "a for loop adding a constant", "a for loop summing its index",
            "a loop over a range with a start value and a multiplier", "a loop with an if/else on the index",
            "two nested loops and a condition"], [
            "indexing a three-item list", "appending to a list and summing it",
            "popping and inserting, then adding the first and last items", "summing a slice of a list",
            "a filtered list comprehension"], [
            "indexing one character", "slicing", "reversing with [::-1]", "joining two end slices",
            "replace() followed by a stepped slice"])),
        scoring={"loop_accumulate": "number", "list_ops": "number", "string_ops": "text"},
        helpers=(_printed,),
    ),
    Template(
        "python_function", "code", "programming",
        {
            "linear": "Trace a Python function returning a*x + b (a up to {a_max}) {calls}.",
            "conditional": "Trace a Python function with an if/else branch on a threshold (subtracting up to "
                           "{a_max} above it, adding below), {calls}.",
            "recursive": "Trace a recursive Python function ({recursion_text}) called with n up to {n_max}.",
        },
        _gen_python_function,
        (
            {"a_max": 1, "depth": 1, "recursion": "sum", "n_max": 3},
            {"a_max": 3, "depth": 1, "recursion": "sum", "n_max": 6},
            {"a_max": 3, "depth": 2, "recursion": "double", "n_max": 6},
            {"a_max": 5, "depth": 2, "recursion": "step2", "n_max": 12},
            {"a_max": 5, "depth": 3, "recursion": "fib", "n_max": 10},
        ),
        tuple({"calls": c, "recursion_text": r} for c, r in [
            ("called once", "adding n to f(n - 1)"), ("called once", "adding n to f(n - 1)"),
            ("applied twice as f(f(x))", "doubling f(n - 1)"), ("applied twice as f(f(x))", "adding n to f(n - 2)"),
            ("applied three times as f(f(f(x)))", "Fibonacci, f(n - 1) + f(n - 2)")]),
        helpers=(_printed,),
    ),
    Template(
        "number_sequence", "sequences", "math",
        {
            "arithmetic": "Find the {task} of an arithmetic sequence ({shown} terms shown, constant step "
                          "{step_lo} to {step_hi}{sign}).",
            "geometric": "Find the {task} of a geometric sequence ({shown} terms shown, whole ratio up to "
                         "{ratio_hi}{sign}).",
            "fibonacci_like": "Find the {task} of a Fibonacci-like sequence where each term is the sum of the two "
                              "before it ({shown} terms shown, starting values {lo} to {hi}).",
        },
        _gen_number_sequence,
        (
            {"shown": 5, "lo": 1, "hi": 10, "step_lo": 1, "step_hi": 3, "ratio_hi": 2, "geo_start": 10,
             "signed": False, "missing": False},
            {"shown": 5, "lo": 1, "hi": 30, "step_lo": 2, "step_hi": 9, "ratio_hi": 3, "geo_start": 9,
             "signed": False, "missing": False},
            {"shown": 4, "lo": 10, "hi": 99, "step_lo": 3, "step_hi": 15, "ratio_hi": 4, "geo_start": 9,
             "signed": True, "missing": False},
            {"shown": 5, "lo": 20, "hi": 200, "step_lo": 11, "step_hi": 40, "ratio_hi": 5, "geo_start": 12,
             "signed": True, "missing": True},
            {"shown": 6, "lo": -100, "hi": 300, "step_lo": 13, "step_hi": 97, "ratio_hi": 5, "geo_start": 20,
             "signed": True, "missing": True},
        ),
        tuple({"task": t, "sign": s} for t, s in [
            ("next term", ""), ("next term", ""), ("next term", ", negative allowed"),
            ("hidden middle term", ", negative allowed"), ("hidden middle term", ", negative allowed")]),
    ),
    Template(
        "letter_sequence", "sequences", "text",
        {
            "forward": "Continue a letter series that moves forward through the alphabet by a fixed step of "
                       "{step_lo} to {step_hi}{wrap_text}.",
            "backward": "Continue a letter series running backwards through the alphabet in fixed steps of "
                        "{step_lo} to {step_hi}{wrap_text}.",
            "growing": "Continue a letter series whose step grows by one each time, starting at {step_lo} to "
                       "{step_hi}{wrap_text}.",
        },
        _gen_letter_sequence,
        (
            {"shown": 4, "step_lo": 1, "step_hi": 1, "wrap": False},
            {"shown": 4, "step_lo": 2, "step_hi": 2, "wrap": False},
            {"shown": 4, "step_lo": 3, "step_hi": 4, "wrap": False},
            {"shown": 5, "step_lo": 4, "step_hi": 6, "wrap": True},
            {"shown": 5, "step_lo": 5, "step_hi": 9, "wrap": True},
        ),
        tuple({"wrap_text": w} for w in ["", "", "", " (wrapping past z)", " (wrapping past z)"]),
        scoring="text",
    ),
    Template(
        "unit_conversion", "measurement", "measurement",
        {
            "length": "Convert metric lengths (kilometres, metres, centimetres, millimetres): {conversion}.",
            "duration": "Convert durations between days, hours, minutes and seconds: {conversion}.",
            "mass": "Convert masses between tonnes, kilograms, grams and milligrams: {conversion}.",
        },
        _gen_unit_conversion,
        (
            {"mode": "down", "steps": 1, "q_max": 5},
            {"mode": "down", "steps": 1, "q_max": 20},
            {"mode": "down", "steps": 2, "q_max": 9},
            {"mode": "mixed", "steps": 1, "q_max": 12},
            {"mode": "up", "steps": 2, "q_max": 30},
        ),
        tuple({"conversion": c} for c in [
            "one step to the next smaller unit, amounts up to 5",
            "one step to the next smaller unit, amounts up to 20",
            "two steps down, amounts up to 9",
            "a mixed amount like '3 X and 25 Y' into the smaller unit",
            "two steps up, dividing a large amount back into the bigger unit",
        ]),
    ),
    Template(
        "clock_time", "measurement", "time",
        {
            "add_duration": "Clock arithmetic: the time {duration} after a given time, {clock}.",
            "subtract_duration": "Clock arithmetic backwards: the time {duration} before a given time, {clock}.",
            "minutes_between": "Elapsed time: the number of minutes between two clock times {duration} apart, "
                               "{clock}.",
        },
        _gen_clock_time,
        (
            {"start_lo": 60, "start_hi": 720, "start_step": 60, "end_hi": 780, "d_lo": 60, "d_hi": 180,
             "d_step": 60, "same_hour": False, "clock24": False, "wrap": False},
            {"start_lo": 60, "start_hi": 720, "start_step": 10, "end_hi": 780, "d_lo": 10, "d_hi": 40,
             "d_step": 10, "same_hour": True, "clock24": False, "wrap": False},
            {"start_lo": 60, "start_hi": 720, "start_step": 5, "end_hi": 780, "d_lo": 15, "d_hi": 95,
             "d_step": 5, "same_hour": False, "clock24": False, "wrap": False},
            {"start_lo": 0, "start_hi": 1440, "start_step": 1, "end_hi": 1440, "d_lo": 61, "d_hi": 299,
             "d_step": 1, "same_hour": False, "clock24": True, "wrap": False},
            {"start_lo": 0, "start_hi": 1440, "start_step": 1, "end_hi": 1440, "d_lo": 120, "d_hi": 720,
             "d_step": 1, "same_hour": False, "clock24": True, "wrap": True},
        ),
        tuple({"duration": d, "clock": c} for d, c in [
            ("one to three whole hours", "on the hour, 12-hour clock"),
            ("10 to 40 minutes", "within the same hour, 12-hour clock"),
            ("15 to 95 minutes", "crossing the hour, 12-hour clock"),
            ("one to five hours and some minutes", "24-hour clock"),
            ("two to twelve hours", "24-hour clock, crossing midnight")]),
        scoring={"add_duration": "numbers", "subtract_duration": "numbers", "minutes_between": "number"},
    ),
    Template(
        "calendar", "measurement", "time",
        {
            "weekday_after": "Weekday arithmetic: the day of the week {d_lo} to {d_hi} days after a given weekday.",
            "date_after": "Date arithmetic: the calendar date {d_lo} to {d_hi} days after a given date{span}.",
            "days_between": "Count the days between two calendar dates {d_lo} to {d_hi} days apart{span}.",
        },
        _gen_calendar,
        (
            {"d_lo": 1, "d_hi": 6, "years": [2023], "same_month": True, "show_year": False},
            {"d_lo": 7, "d_hi": 20, "years": [2023], "same_month": True, "show_year": False},
            {"d_lo": 10, "d_hi": 45, "years": [2023, 2024], "same_month": False, "show_year": False},
            {"d_lo": 50, "d_hi": 200, "years": [2023, 2024], "same_month": False, "show_year": True},
            {"d_lo": 200, "d_hi": 800, "years": [2022, 2023, 2024, 2025], "same_month": False, "show_year": True},
        ),
        tuple({"span": s} for s in [
            " in the same month", " in the same month", ", possibly in the next month",
            ", across months and years", ", across years including leap days"]),
        scoring={"weekday_after": "text", "date_after": "text", "days_between": "number"},
        imports=("datetime",),
    ),
    Template(
        "word_problem", "word_problems", "math",
        {
            "shopping": "Shopping story problem: {shopping}.",
            "sharing": "Sharing story problem: {sharing}.",
            "travel": "Travel story problem with speeds in km per hour: {travel}.",
        },
        _gen_word_problem,
        (
            {"form": 1, "items": 1, "q_max": 3, "p_max": 5, "change": False},
            {"form": 2, "items": 1, "q_max": 9, "p_max": 12, "change": False},
            {"form": 3, "items": 2, "q_max": 9, "p_max": 20, "change": False},
            {"form": 4, "items": 2, "q_max": 9, "p_max": 20, "change": True},
            {"form": 5, "items": 3, "q_max": 12, "p_max": 30, "change": True},
        ),
        tuple({"shopping": a, "sharing": b, "travel": c} for a, b, c in [
            ("the cost of up to 3 copies of one item at up to 5 dollars",
             "share a few sweets equally among 2 or 3 children", "distance from a walking speed and 2 or 3 hours"),
            ("the cost of up to 9 copies of one item at up to 12 dollars",
             "share sweets equally among up to 5 children", "distance from a speed and a few hours"),
            ("the total for two kinds of items", "the sweets left over after sharing equally",
             "hours needed for a distance at a given speed"),
            ("the change from a banknote after buying two kinds of items",
             "cookies baked on trays and packed into boxes: how many boxes", "total distance of a two-leg drive"),
            ("the change from a banknote after buying three kinds of items",
             "trays, boxes and sales: how many boxes remain", "average speed over a two-leg drive")]),
    ),
)

TEMPLATES: dict[str, Template] = {t.name: t for t in _TEMPLATES}

RELATED: dict[str, tuple[str, ...]] = {
    "arithmetic": ("word_problems", "sequences", "comparison"),
    "word_problems": ("arithmetic", "measurement"),
    "sequences": ("arithmetic", "lists"),
    "comparison": ("arithmetic", "logic"),
    "logic": ("comparison", "code"),
    "code": ("logic", "strings", "lists"),
    "lists": ("counting", "sequences", "code"),
    "counting": ("lists", "strings"),
    "strings": ("counting", "code"),
    "measurement": ("arithmetic", "word_problems"),
    "knowledge": ("strings", "logic"),  # seed families only
}


# --- rendering ----------------------------------------------------------------------------------

_CLASS = '''class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(SEED)
        tasks, questions = {}, set()
        for _ in range(50 * N_INSTANCES):
            t = make_instance(rng, VARIANT, PARAMS)
            if t["question"] not in questions:
                questions.add(t["question"])
                tasks[str(len(tasks))] = t
                if len(tasks) == N_INSTANCES:
                    break
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return t["question"]

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return SCORER(t, submission)
'''


@functools.cache
def _source(function: Callable) -> str:
    """The source of a module-level function, as copied into family code."""
    return inspect.getsource(function).strip()


def family_name(template: str, variant: str, level: int) -> str:
    """The METADATA name of a catalogue entry."""
    return f"{template}_{variant}_l{level}"


def catalogue() -> list[tuple[str, str, int]]:
    """Every (template, variant, level) the library can render, in library order."""
    return [(t.name, v, lv) for t in _TEMPLATES for v in t.variants for lv in range(1, len(t.params) + 1)]


def render(template: str, variant: str, level: int, seed: int | None = None) -> str:
    """The task-family source of one catalogue entry.

    Args:
        seed: the instance seed baked into the code; by default a stable hash of the family name.
    """
    spec = TEMPLATES[template]
    name = family_name(template, variant, level)
    description = spec.describe(variant, level)
    metadata = {"name": name, "description": description, "capability": spec.capability, "domain": spec.domain,
                "template": template, "variant": variant, "level": level}
    scorer = SCORERS[spec.scorer(variant)]
    generator = _source(spec.generate).replace(f"def {spec.generate.__name__}(", "def make_instance(", 1)
    blocks = [
        '"""' + textwrap.fill(description, 96) + '"""\n\n'
        + "\n".join(f"import {m}" for m in sorted({"random", "re", *spec.imports})),
        "METADATA = " + pprint.pformat(metadata, width=100, sort_dicts=False),
        "\n".join([
            f"VARIANT = {variant!r}",
            "PARAMS = " + pprint.pformat(spec.params[level - 1], width=100, compact=True, sort_dicts=False),
            f"SEED = {zlib.crc32(name.encode()) if seed is None else seed}",
            f"N_INSTANCES = {N_INSTANCES}",
        ]),
        *(_source(f) for f in (*spec.helpers, *scorer)),
        generator,
        _CLASS.replace("SCORER", scorer[-1].__name__).strip(),
    ]
    return "\n\n\n".join(blocks) + "\n"


# --- choosing what to write ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """Where a parent family sits: its catalogue entry (None for families not from the library)."""

    capability: str
    entry: tuple[str, str, int] | None = None


def _origin(code: str, capability: str) -> _Origin:
    """Locate ``code`` (a parent or a previous attempt) in the catalogue by its METADATA."""
    try:
        meta = read_metadata(code)
    except TaskFamilyError:
        return _Origin(capability)
    entry = (meta.get("template"), meta.get("variant"), meta.get("level"))
    spec = TEMPLATES.get(entry[0]) if isinstance(entry[0], str) else None
    if spec and entry[1] in spec.variants and entry[2] in range(1, len(spec.params) + 1):
        return _Origin(spec.capability, entry)
    return _Origin(capability or meta["capability"])


def _cost(operation: str, origin: _Origin, entry: tuple[str, str, int]) -> tuple[int, int]:
    """How far ``entry`` is from what ``operation`` asks of ``origin``: (total, level part).

    Lower is better; ties are broken at random.  The parent itself is never preferred, and
    ``novel_related`` puts the parent's own (template, variant) last.
    """
    template, variant, level = entry
    cap = TEMPLATES[template].capability
    related = cap in RELATED.get(origin.capability, ())
    parent_level = origin.entry[2] if origin.entry else None
    if operation in ("harder", "easier"):
        if origin.entry and template == origin.entry[0]:
            affinity = 0 if variant == origin.entry[1] else 1
        else:
            affinity = 2 if cap == origin.capability else 3 if related else 4
        if operation == "harder":
            target = min(parent_level + 1, len(TEMPLATES[origin.entry[0]].params)) if parent_level else 2
            level_cost = level - target if level >= target else 3 * (target - level)
        else:
            target = max(parent_level - 1, 1) if parent_level else 1
            level_cost = target - level if level <= target else 3 * (level - target)
    elif operation == "novel_related":
        affinity = 0 if cap == origin.capability else 1 if related else 2
        if origin.entry and (template, variant) == origin.entry[:2]:
            affinity += 100
        level_cost = max(0, abs(level - (parent_level or 1)) - 1)
    else:  # novel_new
        affinity = 4 if cap == origin.capability else 1 if related else 0
        level_cost = max(0, level - 2)
    if entry == origin.entry:
        affinity += 1000
    return affinity + level_cost, level_cost


def _choose(operation: str, origin: _Origin, taken: set[str], rng: random.Random) -> tuple[str, str, int]:
    """The best catalogue entry for ``operation`` whose name is not ``taken`` (the best taken
    one when every entry is)."""
    ranked = sorted((_cost(operation, origin, e), rng.random(), e) for e in catalogue())
    free = [e for _, _, e in ranked if family_name(*e) not in taken]
    return (free or [ranked[0][2]])[0]


def _answer(req: TaskRequest, taken: set[str]) -> tuple[str, str, int]:
    """The catalogue entry ``req``'s operation asks for, from its parent."""
    origin = _origin(req.parent.get("code", ""), req.parent.get("capability", ""))
    return _choose(req.operation, origin, taken, random.Random(req.seed))


class TemplateScientist:
    """The offline scientist: every reply is a rendered library family (see the module docstring).

    Replies of one batch have distinct names: each request avoids its ``known_names`` and the
    names chosen for the requests before it.
    """

    def write(self, requests: list[TaskRequest]) -> list[str]:
        """One reply per request: the family its operation asks for, from the request's parent."""
        chosen: set[str] = set()
        replies = []
        for req in requests:
            entry = _answer(req, chosen | set(req.known_names))
            chosen.add(family_name(*entry))
            replies.append(fenced(render(*entry)))
        return replies

    def reflect(self, requests: list[TaskRequest], attempts: list[str], errors: list[str]) -> list[str]:
        """Rewrites: one level easier (another variant at level 1) when no archive model solved the
        attempt, else the attempt's family with fresh instances; a fresh :meth:`write` for
        attempts that are not library families."""
        chosen: set[str] = set()
        replies = []
        for req, attempt, error in zip(requests, attempts, errors):
            try:
                origin = _origin(extract_code(attempt), "")
            except TaskFamilyError:
                origin = _Origin("")
            taken = chosen | set(req.known_names)
            seed = None
            if origin.entry is None:
                entry = _answer(req, taken)
            elif UNSOLVABLE in error.lower():
                entry = _choose("easier", origin, taken, random.Random(req.seed))
            else:
                entry = origin.entry
                seed = zlib.crc32(f"{family_name(*entry)}#{req.seed}".encode())
            chosen.add(family_name(*entry))
            replies.append(fenced(render(*entry, seed=seed)))
        return replies

    def is_interesting(self, candidates: list[str], neighbours: list[list[str]]) -> list[bool | None]:
        """No opinion on novelty: the embedding filter alone decides."""
        return [None] * len(candidates)
