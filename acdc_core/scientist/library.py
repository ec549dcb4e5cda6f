"""The template scientist's library: every parametric task template as data (capability,
domain, variants, five levels of generator parameters, its generator and scoring rule), and which
capabilities count as related."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acdc_core.scientist.family_code import _ordinal, _printed
from acdc_core.scientist.generators import (
    gen_add_sub,
    gen_boolean_logic,
    gen_calendar,
    gen_clock_time,
    gen_count_in_list,
    gen_count_letters,
    gen_expressions,
    gen_letter_position,
    gen_letter_sequence,
    gen_list_aggregate,
    gen_list_lookup,
    gen_list_reorder,
    gen_multiply_divide,
    gen_number_compare,
    gen_number_sequence,
    gen_ordering,
    gen_percentages,
    gen_python_function,
    gen_python_trace,
    gen_unit_conversion,
    gen_word_edit,
    gen_word_problem,
)


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
        gen_add_sub,
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
        gen_multiply_divide,
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
        gen_expressions,
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
        gen_percentages,
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
        gen_list_aggregate,
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
        gen_list_reorder,
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
        gen_list_lookup,
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
        gen_word_edit,
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
        gen_letter_position,
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
        gen_count_letters,
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
        gen_count_in_list,
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
        gen_number_compare,
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
        gen_boolean_logic,
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
        gen_ordering,
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
        gen_python_trace,
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
        gen_python_function,
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
        gen_number_sequence,
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
        gen_letter_sequence,
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
        gen_unit_conversion,
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
        gen_clock_time,
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
        gen_calendar,
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
        gen_word_problem,
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
