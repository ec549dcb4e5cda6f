"""Chat clients: OpenAIChat over real HTTP against tests/helpers/openai_server.py, HFChat on a pico Llama."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import pytest
from helpers.openai_server import OpenAIServer
from helpers.pico import build_pico, build_tokenizer

from acdc_core.adapters.chat import ChatError, HFChat, OpenAIChat, make_chat
from acdc_core.config import JudgeSection, ScientistSection

KEY_ENV = "ACDC_TEST_CHAT_KEY"


def _conv(i: int) -> list[dict]:
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": f"question {i}"}]


def _chat(srv: OpenAIServer, **kw) -> OpenAIChat:
    args = {"base_url": srv.base_url, "model": "served-model", "api_key_env": KEY_ENV, "timeout_s": 5.0,
            "max_retries": 0, "concurrency": 4}
    return OpenAIChat(**(args | kw))


def test_import_is_cheap():
    code = "import sys, acdc_core.adapters.chat; print(sorted({'torch', 'transformers', 'openai'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_batch_in_order_with_sampling_params(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "k")
    section = ScientistSection(backend="openai", base_url="http://x/v1", model="served-model",
                               api_key_env=KEY_ENV, temperature=0.3, top_p=0.9, max_tokens=77, concurrency=3)
    with OpenAIServer(replies=lambda req: "reply to " + req["messages"][-1]["content"]) as srv:
        chat = make_chat(section.model_copy(update={"base_url": srv.base_url}))
        convs = [_conv(i) for i in range(6)]
        assert chat.complete(convs) == [f"reply to question {i}" for i in range(6)]
        chat.close()
    assert len(srv.requests) == 6
    assert sorted(r["messages"][-1]["content"] for r in srv.requests) == [f"question {i}" for i in range(6)]
    for req in srv.requests:
        assert req["model"] == "served-model"
        assert req["messages"][0] == {"role": "system", "content": "You are terse."}
        assert (req["temperature"], req["top_p"], req["max_tokens"]) == (0.3, 0.9, 77)


def test_api_key_from_named_env_var(monkeypatch, caplog):
    with OpenAIServer(api_key="sekrit") as srv:
        monkeypatch.setenv(KEY_ENV, "sekrit")
        assert _chat(srv).complete([_conv(0)]) == ["question 0"]

        monkeypatch.delenv(KEY_ENV)
        with caplog.at_level(logging.INFO, logger="acdc_core.adapters.chat"):
            chat = _chat(srv)
        assert f"{KEY_ENV} is not set" in caplog.text
        with pytest.raises(ChatError, match="401") as err:
            chat.complete([_conv(0)])
    assert "Authentication" in str(err.value) and srv.base_url in str(err.value)


def test_retries_recover_then_give_up():
    with OpenAIServer(fail_first=2) as srv:
        assert _chat(srv, max_retries=3).complete([_conv(0)]) == ["question 0"]
    assert len(srv.requests) == 3

    with OpenAIServer(fail_first=5, fail_status=429) as srv:
        with pytest.raises(ChatError, match="HTTP 429") as err:
            _chat(srv, max_retries=1).complete([_conv(0)])
    assert srv.base_url in str(err.value) and "served-model" in str(err.value)
    assert len(srv.requests) == 2


def test_timeout_is_a_chat_error():
    with OpenAIServer(delay_s=2.0) as srv:
        t0 = time.perf_counter()
        with pytest.raises(ChatError, match="timed out") as err:
            _chat(srv, timeout_s=0.5).complete([_conv(0)])
        assert time.perf_counter() - t0 < 1.5
    assert srv.base_url in str(err.value)


def test_concurrency_bounds_requests_in_flight():
    with OpenAIServer(delay_s=0.3) as srv:
        assert _chat(srv, concurrency=2).complete([_conv(i) for i in range(6)]) == [
            f"question {i}" for i in range(6)
        ]
    assert srv.max_in_flight == 2


def test_unreachable_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    chat = OpenAIChat(base_url=url, model="m", api_key_env=KEY_ENV, timeout_s=2.0, max_retries=0)
    with pytest.raises(ChatError, match="connection failed") as err:
        chat.complete([_conv(0)])
    assert url in str(err.value)


def test_make_chat_rejects_non_chat_backends():
    with pytest.raises(ValueError, match="'template'"):
        make_chat(ScientistSection())
    with pytest.raises(ValueError, match="'none'"):
        make_chat(JudgeSection())


@pytest.fixture(scope="module")
def pico_chat(tmp_path_factory) -> dict:
    """A pico Llama with a chat template, and the same model whose tokenizer has none."""
    root = tmp_path_factory.mktemp("pico_chat")
    tok = build_tokenizer(root / "tokenizer")
    with_template = build_pico(root / "chat", 0, tok)
    tok.chat_template = None
    return {"chat": with_template, "plain": build_pico(root / "plain", 0, tok)}


def test_hf_chat_batch_is_deterministic(pico_chat):
    section = JudgeSection(backend="hf", model=str(pico_chat["chat"]), max_tokens=8)
    chat = make_chat(section)
    assert isinstance(chat, HFChat)
    convs = [_conv(0), [{"role": "user", "content": "What is 12 + 30?"}], _conv(2)]
    first = chat.complete(convs)
    assert len(first) == 3 and all(isinstance(t, str) for t in first)
    assert chat.complete(convs) == first
    assert chat.complete(convs[1:2]) == first[1:2]  # batching and padding do not change a reply
    chat.close()

    sampled = [HFChat(str(pico_chat["chat"]), temperature=1.0, top_p=0.9, max_tokens=8, seed=3) for _ in range(2)]
    assert sampled[0].complete(convs) == sampled[1].complete(convs)


def test_hf_chat_takes_a_template_for_a_base_model(pico_chat):
    template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                "{% if add_generation_prompt %}assistant:{% endif %}")
    chat = make_chat(JudgeSection(backend="hf", model=str(pico_chat["plain"]), max_tokens=4, temperature=0,
                                  chat_template=template))
    assert chat.tokenizer.chat_template == template
    assert chat.complete([_conv(0), _conv(2)]) == chat.complete([_conv(0), _conv(2)])
    own = make_chat(JudgeSection(backend="hf", model=str(pico_chat["chat"]), chat_template=template))
    assert own.tokenizer.chat_template and own.tokenizer.chat_template != template  # the folder's own wins


def test_hf_chat_needs_a_chat_template(pico_chat, tmp_path):
    with pytest.raises(ChatError, match="no chat template") as err:
        HFChat(str(pico_chat["plain"]))
    assert str(pico_chat["plain"]) in str(err.value)
    with pytest.raises(ChatError, match="not a folder"):
        HFChat(str(tmp_path / "missing"))
