"""One exception type crosses the sandbox boundary (issue 30).

Whatever bytes a reply line holds, whatever a judge request or a family's methods return, the
parent yields scores or instances with clean strings (no lone surrogates, no NUL), a
``SandboxError`` from ``Sandbox.score``/``instances``, or a ``TaskFamilyError`` from
``validate_family``: never RecursionError, OverflowError, UnicodeEncodeError or anything else.
Property-based (Hypothesis) over arbitrary and adversarial inputs.
"""

import functools
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from acdc_core.adapters.sandbox import Sandbox, SandboxError, SandboxLimits, client
from acdc_core.taskfamily import TaskFamilyError
from acdc_core.validation import validate_family

NONCE_LIKE = "0123456789abcdef"
HOSTILE = ["\udcff", "\ud800", "\x00", "\n", "\u2028", "\ufeff", NONCE_LIKE, "J{", '"}']
text = st.lists(st.one_of(st.characters(), st.sampled_from(HOSTILE)), max_size=20).map("".join)
scalars = st.one_of(st.none(), st.booleans(), st.floats(), text,
                    st.integers(), st.integers(min_value=10 ** 399, max_value=10 ** 401))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                      max_leaves=20)
depths = st.integers(min_value=1, max_value=200_000)
nested = depths.map(lambda n: "[" * n + "]" * n) | depths.map(lambda n: '{"a":' * n + "1" + "}" * n)
reply_shaped = st.one_of(
    st.fixed_dictionaries({"scores": st.dictionaries(st.sampled_from(["a", "b"]), values), "errors": values}),
    st.fixed_dictionaries({"scores": st.fixed_dictionaries({"a": values, "b": values}),
                           "errors": st.dictionaries(st.sampled_from(["a", "b"]), values)}),
    st.fixed_dictionaries({"instances": st.dictionaries(text, st.fixed_dictionaries(
        {"task": values, "instructions": values}), max_size=3)}),
    st.fixed_dictionaries({"fatal": values}),
    values,
)


def as_line(value: object, ascii_only: bool) -> bytes:
    """``value`` as the runner could put it on its reply line (lone surrogates passed through)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def assert_clean(value: object) -> None:
    """Every string in ``value`` (keys too) encodes as UTF-8 and holds no NUL."""
    if isinstance(value, str):
        value.encode("utf-8")
        assert "\x00" not in value
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_clean(k)
            assert_clean(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            assert_clean(v)


def through_parser(line: bytes) -> None:
    """The parent's reply path on one line: parse, then both validators."""
    try:
        reply = client._parse_reply(line)
    except SandboxError:
        return
    for check in (lambda: client._checked_scores(reply, ["a", "b"]),
                  lambda: client._checked_instances(reply, 3)):
        try:
            assert_clean(check())
        except SandboxError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), nested.map(str.encode),
                 st.builds(as_line, reply_shaped, st.booleans())))
@example(b'{"scores": {"a": ' + b"9" * 400 + b', "b": 0}, "errors": {}}')
@example(b'{"instances": {"a": {"task": {}, "instructions": "\\udcff"}}}')
@example(b'{"instances": {"a": {"task": ' + b"[" * 500 + b"]" * 500 + b', "instructions": "x"}}}')
@example(b'{"scores": {"a": 1, "b": 1}, "errors": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}")
def test_reply_parser_yields_clean_results_or_sandbox_error(line):
    through_parser(line)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), nested.map(str.encode), st.builds(as_line, values, st.booleans())))
def test_judge_requests_yield_an_answer_object(body):
    budget = client._JudgeBudget(lambda *fields: all(assert_clean(f) is None for f in fields), 1, SandboxLimits())
    answer = budget.answer(body)
    assert set(answer) in ({"verdict"}, {"error"})
    json.dumps(answer).encode("utf-8")


SANDBOX = Sandbox(SandboxLimits(timeout_s=5, memory_mb=256, max_processes=8))
needs_namespaces = pytest.mark.skipif(not client.isolation_prefix(), reason="needs namespaces")
FORGE = '''
class TaskFamily:
    @staticmethod
    def get_tasks():
        return {{"a": {{"x": 1}}}}
    @staticmethod
    def get_instructions(t):
        return "x"
    @staticmethod
    def score(t, submission):
        import os
        cells = [c.cell_contents for c in eval_with_llm_judge.__closure__]
        nonce = next(c for c in cells if isinstance(c, str))
        channel = next(c for c in cells if hasattr(c, "write"))
        os.write(channel.fileno(), nonce.encode() + {line!r} + b"\\n")
        os._exit(0)
'''


@needs_namespaces
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=100).filter(lambda b: b"\n" not in b),
                 st.builds(as_line, reply_shaped, st.booleans())))
@example(b'{"scores": {"a": ' + b"9" * 400 + b', "b": 0}, "errors": {}}')
@example(b'{"scores": {"a": 1, "b": 0}, "errors": {"a": "\\udcff\\u0000"}}')
@example(b'{"fatal": ' + b"[" * 900 + b"]" * 900 + b"}")
def test_score_yields_scores_or_sandbox_error_for_any_reply_line(line):
    items = [{"instance_id": "a", "task": {}, "submission": ""}, {"instance_id": "b", "task": {}, "submission": ""}]
    try:
        assert_clean(SANDBOX.score(FORGE.format(line=line), items))
    except SandboxError:
        pass


DEEP = functools.reduce(lambda v, _: [v], range(70), [])  # compiles, too deep as task data
FAMILY = '''
METADATA = {{"name": "hostile", "description": "d", "capability": "c", "domain": "x"}}
TASK = {task!r}
class TaskFamily:
    @staticmethod
    def get_tasks():
        return {{"a": {{"task": TASK}}, "b": {{"task": TASK}}}}
    @staticmethod
    def get_instructions(t):
        return {instructions!r}
    @staticmethod
    def score(t, submission):
        return {score!r} if submission else 0.0
'''


@needs_namespaces
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=values, instructions=values, score=values)
@example(task={}, instructions=chr(0xdcff), score=1.0)
@example(task={"s": "\x00\udcff"}, instructions="ok\x00", score=10 ** 400)
@example(task=DEEP, instructions="x", score=1.0)
def test_validate_family_yields_a_clean_family_or_task_family_error(task, instructions, score):
    code = FAMILY.format(task=task, instructions=instructions, score=score)
    try:
        fam = validate_family(code, SANDBOX, origin="scientist", parent_id=None, known_ids=set(),
                              known_names=set(), max_instances=2, min_instances=1, judge_available=False)
    except TaskFamilyError:
        return
    assert_clean(fam.code)
    assert_clean(fam.instances)


@needs_namespaces
def test_deeply_nested_task_data_from_a_family_is_a_sandbox_error():
    code = FAMILY.format(task=None, instructions="x", score=1.0).replace(
        "TASK = None", "TASK = []\nfor _ in range(900):\n    TASK = [TASK]")
    with pytest.raises(SandboxError, match="nested deeper"):
        SANDBOX.instances(code, 2)
