"""A stand-in OpenAI server with switchable faults, for the failures a real engine will not produce on cue.

Usage: python fake_engine.py PORT MODE  (binds 127.0.0.1 only; stdlib only, starts in ~50 ms)

Modes: ok | models-late:SECONDS | hang | exit:CODE | print-env:NAME (prints it, exits 1) | no-usage | empty-text |
bad-finish | stream-no-usage | too-many-tokens | needs-key:VALUE | slow-stream:SECONDS (a pause before each
streamed event, flushed as written: what a front must pass through unbuffered) | root-cause (a failed start
laid out like vLLM's: the engine core's exception, then 60 lines of the API server's traceback; exits 1)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.monotonic()
PORT, MODE = int(sys.argv[1]), sys.argv[2]


def completion_tokens(body: dict) -> int:
    wanted = int(body.get("max_tokens") or 4)
    return wanted + 1 if MODE == "too-many-tokens" else min(wanted, 3)


def usage(body: dict) -> dict | None:
    if MODE == "no-usage":
        return None
    done = completion_tokens(body)
    return {"prompt_tokens": 5, "completion_tokens": done, "total_tokens": 5 + done}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt: str, *args: object) -> None:
        print(f"fake-engine: {self.command} {self.path} " + (fmt % args), flush=True)

    def reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorised(self) -> bool:
        if not MODE.startswith("needs-key:"):
            return True
        return self.headers.get("Authorization") == f"Bearer {MODE.split(':', 1)[1]}"

    def do_GET(self) -> None:
        if MODE == "hang":
            time.sleep(3600)
        if self.path == "/health":
            return self.reply(200, {"status": "ok"})
        if self.path == "/v1/models":
            if MODE.startswith("models-late:") and time.monotonic() - STARTED < float(MODE.split(":")[1]):
                return self.reply(503, {"error": "loading"})
            if not self.authorised():
                return self.reply(401, {"error": {"message": "bad key"}})
            return self.reply(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        return self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.authorised():
            return self.reply(401, {"error": {"message": "bad key"}})
        text = "" if MODE == "empty-text" else "hello there"
        finish = "tool_calls" if MODE == "bad-finish" else "length"
        if body.get("stream"):
            return self.stream(body, text, finish)
        if self.path == "/v1/chat/completions":
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": finish}
            kind = "text_completion"
        payload = {"id": "x", "object": kind, "created": 0, "model": body.get("model"), "choices": [choice]}
        if usage(body) is not None:
            payload["usage"] = usage(body)
        return self.reply(200, payload)

    def stream(self, body: dict, text: str, finish: str) -> None:
        chunked = MODE.startswith("slow-stream:")  # as uvicorn streams: HTTP/1.1 chunks, not a closed socket
        if chunked:
            self.protocol_version = "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
        self.end_headers()
        base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body.get("model")}
        chunks = [
            {"index": 0, "delta": {"content": word}, "finish_reason": None}
            for word in text.split(" ")
            if word
        ]
        events = [{**base, "choices": [c]} for c in chunks]
        if MODE != "stream-no-usage":  # the truncated stream: 200, early [DONE], no final chunk
            events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            events.append({**base, "choices": [], "usage": usage(body)})
        payloads = [f"data: {json.dumps(event)}\n\n".encode() for event in events] + [b"data: [DONE]\n\n"]
        for payload in payloads:
            if chunked:
                time.sleep(float(MODE.split(":")[1]))
                payload = b"%x\r\n%s\r\n" % (len(payload), payload)
            self.wfile.write(payload)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True


def fail_like_vllm() -> None:
    """The root cause first, then a long wrapper traceback: what a tail-only error used to cut off."""
    core = "(EngineCore_DP0 pid=1) ERROR 11-30 10:12:01 [core.py:1108] "
    print(core + "EngineCore failed to start.", flush=True)
    print(core + "Traceback (most recent call last):", flush=True)
    print(core + '  File "/site/vllm/model_executor/models/qwen2.py", line 461, in load_weights', flush=True)
    print(core + "    weight_loader(param, loaded_weight, shard_id)", flush=True)
    print(
        core
        + "TypeError: KVCacheScaleParameter.weight_loader() takes 2 positional arguments but 3 were given"
    )
    print("(APIServer pid=2) Traceback (most recent call last):")
    for i in range(30):
        print(f'(APIServer pid=2)   File "/site/vllm/entrypoints/layer{i}.py", line {i + 1}, in step{i}')
        print(f"(APIServer pid=2)     return step{i + 1}()")
    print(
        "(APIServer pid=2) RuntimeError: Engine core initialization failed. See root cause above.", flush=True
    )
    sys.exit(1)


def main() -> None:
    if MODE == "root-cause":
        fail_like_vllm()
    if MODE.startswith("exit:"):
        print("fake-engine: error: unrecognized arguments: --no-such-flag", flush=True)
        sys.exit(int(MODE.split(":")[1]))
    if MODE.startswith("print-env:"):
        value = os.environ.get(MODE.split(":", 1)[1], "")
        print(f"fake-engine: secret is {value}", flush=True)
        print(f"fake-engine: secret sha256 {hashlib.sha256(value.encode()).hexdigest()}", flush=True)
        sys.exit(1)
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"fake-engine: listening on 127.0.0.1:{PORT} mode {MODE}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
