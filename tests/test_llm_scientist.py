"""The LLM scientist's conversations, through the real OpenAI client and a localhost server."""

import pytest
from helpers.openai_server import OpenAIServer

from acdc_core.adapters.chat import make_scientist
from acdc_core.config import ScientistSection
from acdc_core.scientist import TaskRequest
from acdc_core.scientist.replies import extract_code
from acdc_core.taskfamily import seed_families


@pytest.fixture(scope="module")
def parent():
    f = next(f for f in seed_families() if f.name == "list_sum")
    return {"task_id": f.task_id, "name": f.name, "code": f.code, "description": f.description,
            "capability": f.capability, "domain": f.domain, "pass_rate": 0.75}


def test_write_reflect_and_novelty_question(parent):
    def reply(req):
        last = req["messages"][-1]["content"]
        if "interestingly new" in last:
            return "It only changes the numbers.\nNo" if "list_sum" in last.split("New task:")[1] else "Yes"
        return "```python\nMETADATA = {}\nclass TaskFamily: pass\n```"

    with OpenAIServer(replies=reply, model="scientist") as srv:
        sci = make_scientist(ScientistSection(backend="openai", base_url=srv.base_url, model="scientist",
                                              temperature=0.3, top_p=0.9, max_tokens=700,
                                              concurrency=1))  # requests reach the server in batch order
        reqs = [TaskRequest("a", "harder", parent, 1, ("list_sum", "antonym")),
                TaskRequest("b", "novel_new", parent, 2, ("list_sum",))]
        replies = sci.write(reqs)
        assert [extract_code(r) for r in replies] == ["METADATA = {}\nclass TaskFamily: pass"] * 2
        first = srv.requests[0]
        assert (first["model"], first["temperature"], first["top_p"], first["max_tokens"]) == ("scientist", 0.3, 0.9, 700)
        user = first["messages"][1]["content"]
        assert "HARDER" in user and "pass rate 75%" in user and parent["code"].strip() in user
        assert "Do not reuse these names: list_sum, antonym" in user
        assert "COMPLETELY NEW" in srv.requests[1]["messages"][1]["content"]

        sci.reflect(reqs[:1], [replies[0]], ["task family defines no METADATA"])
        conv = srv.requests[2]["messages"]
        assert [m["role"] for m in conv] == ["system", "user", "assistant", "user"]
        assert conv[2]["content"] == replies[0] and "defines no METADATA" in conv[3]["content"]

        verdicts = sci.is_interesting(["# a new kind of task", parent["code"]], [[parent["code"]], ["# other"]])
        assert verdicts == [True, False]
