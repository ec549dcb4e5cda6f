"""The template library's instance generators: ``(rng, variant, params) -> {"question",
"answer"[, "options"]}``, one per template (:mod:`acdc_core.scientist.library`).

Each is copied into the families it renders as ``make_instance`` (:func:`inspect.getsource`), so it
uses only its arguments, the stdlib modules the sandbox preloads and the helpers its template lists.
"""

from __future__ import annotations

import datetime

from acdc_core.scientist.family_code import _ordinal, _printed


def gen_add_sub(rng, variant, p):
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


def gen_multiply_divide(rng, variant, p):
    """A product, an exact quotient or a remainder of two whole numbers."""
    a, b = rng.randint(p["a_lo"], p["a_hi"]), rng.randint(p["b_lo"], p["b_hi"])
    if variant == "multiply":
        return {"question": f"What is {a} × {b}?", "answer": str(a * b)}
    if variant == "divide":
        return {"question": f"What is {a * b} divided by {b}?", "answer": str(a)}
    r = rng.randint(1, b - 1)
    return {"question": f"What is the remainder when {a * b + r} is divided by {b}?", "answer": str(r)}


def gen_expressions(rng, variant, p):
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


def gen_percentages(rng, variant, p):
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


def gen_list_aggregate(rng, variant, p):
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


def gen_list_reorder(rng, variant, p):
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


def gen_list_lookup(rng, variant, p):
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


def gen_word_edit(rng, variant, p):
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


def gen_letter_position(rng, variant, p):
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


def gen_count_letters(rng, variant, p):
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


def gen_count_in_list(rng, variant, p):
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


def gen_number_compare(rng, variant, p):
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


def gen_boolean_logic(rng, variant, p):
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


def gen_ordering(rng, variant, p):
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


def gen_python_trace(rng, variant, p):
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


def gen_python_function(rng, variant, p):
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


def gen_number_sequence(rng, variant, p):
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


def gen_letter_sequence(rng, variant, p):
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


def gen_unit_conversion(rng, variant, p):
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


def gen_clock_time(rng, variant, p):
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


def gen_calendar(rng, variant, p):
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


def gen_word_problem(rng, variant, p):
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
