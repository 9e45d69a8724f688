"""An HTTP proxy on 127.0.0.1 in front of moto's S3 server that fails on request.

Each request is matched against the current rule: a predicate on (method, path), an action
(an HTTP status such as 500 or 503 with an S3 error body, or "reset": the connection is
dropped with a TCP RST before any answer) and how many matching requests to fail (None:
all of them, until the rule is changed). Everything else is forwarded unchanged.
"""
from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import struct
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Rule:
    matches: Callable[[str, str], bool] = lambda method, path: False
    action: str | int = 503
    remaining: int | None = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str, path: str) -> str | int | None:
        with self.lock:
            if not self.matches(method, path) or self.remaining == 0:
                return None
            if self.remaining is not None:
                self.remaining -= 1
            self.failed += 1
            return self.action


def audio_gets(method: str, path: str) -> bool:
    """GETs of clips (not of the manifest, not listings)."""
    path = urllib.parse.urlsplit(path).path
    return method == "GET" and path.lower().endswith((".mp3", ".wav", ".flac", ".ogg"))


class FaultProxy:
    def __init__(self, upstream: str):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.rule = Rule()
        self.forwarded = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                action = proxy.rule.take(self.command, self.path)
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if action is not None:
                    payload = (f"<?xml version='1.0'?><Error><Code>{'SlowDown' if action == 503 else 'InternalError'}"
                               f"</Code><Message>injected</Message></Error>").encode()
                    self.send_response(int(action))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                proxy.forwarded += 1
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, matches, action, times: int | None) -> Rule:
        """From now on, fail `times` matching requests (None: all) with `action`."""
        self.rule = Rule(matches, action, times)
        return self.rule

    def heal(self) -> None:
        self.rule = Rule()


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    thread = threading.Thread(target=proxy.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
        thread.join(timeout=5)
