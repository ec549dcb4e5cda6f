"""A small real HTTP server speaking the OpenAI chat-completions protocol, for tests.

``POST /v1/chat/completions`` answers with valid OpenAI response JSON whose content comes from a
``replies(request_json) -> str`` callable (a scripted judge, recorded scientist replies, ...);
``GET /v1/models`` lists the one served model.  The server can fail its first requests, answer
slowly and demand an API key, and it records every request body and the most requests it had
in flight at once::

    with OpenAIServer(replies=lambda req: "Answer: 42") as srv:
        client = OpenAIChat(base_url=srv.base_url, model=srv.model)
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def echo(request: dict) -> str:
    """The default reply: the last message's content."""
    return request["messages"][-1]["content"] if request.get("messages") else ""


class OpenAIServer:
    """An OpenAI-compatible chat server on 127.0.0.1 (a free port), run in a background thread.

    Args:
        replies: ``(request_json) -> str``, the assistant content of each successful answer.
        fail_first: answer the first N chat requests with HTTP ``fail_status``.
        fail_status: the status of those failures (500, 429, ...).
        delay_s: seconds to wait before answering any chat request (cut short by ``stop``).
        api_key: when set, chat requests without ``Authorization: Bearer <api_key>`` get 401.
        model: the served model name (``GET /v1/models``).

    Attributes:
        requests: every chat request body received, in arrival order (failed ones included).
        max_in_flight: the most chat requests being handled at once so far.
        base_url: ``http://127.0.0.1:<port>/v1`` once started.
    """

    def __init__(
        self,
        replies: Callable[[dict], str] = echo,
        fail_first: int = 0,
        fail_status: int = 500,
        delay_s: float = 0.0,
        api_key: str | None = None,
        model: str = "test-model",
    ):
        self.replies = replies
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay_s = delay_s
        self.api_key = api_key
        self.model = model
        self.requests: list[dict] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "OpenAIServer":
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)

    def __enter__(self) -> "OpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _answer(self, body: dict, authorization: str | None) -> tuple[int, dict]:
        """(status, JSON body) for one chat request; runs on a handler thread."""
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.delay_s:
                self._stopping.wait(self.delay_s)
            if self.api_key is not None and authorization != f"Bearer {self.api_key}":
                return 401, _error("Incorrect API key provided", "invalid_request_error", "invalid_api_key")
            if n <= self.fail_first:
                return self.fail_status, _error(f"scripted failure {n} of {self.fail_first}", "server_error")
            content = self.replies(body)
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
            completion_tokens = len(content.split())
            return 200, {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        finally:
            with self._lock:
                self._in_flight -= 1


def _error(message: str, kind: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Stay quiet when a client hung up first (a timed-out request); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": server.model, "object": "model", "created": 0, "owned_by": "tests"}
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._send(404, _error(f"no route GET {self.path}", "invalid_request_error"))

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error(f"no route POST {self.path}", "invalid_request_error"))
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as e:
                self._send(400, _error(f"invalid JSON: {e}", "invalid_request_error"))
                return
            self._send(*server._answer(body, self.headers.get("Authorization")))

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler
