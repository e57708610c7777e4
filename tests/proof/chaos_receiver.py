"""A loopback webhook receiver (stdlib, in a thread) that records every request it gets.

It stands in for the operator's webhook endpoint, outside the machine. The first
``hold_first`` requests are held ``hold_s`` seconds before the 200 goes out, so a test
can SIGKILL the daemon while a delivery is in flight. Receivers dedupe by the
``x-vvtv-delivery-id`` header (``vvtv.notify.delivery`` sends ``<topic>-<outbox id>``, stable
across retries and restarts), so "exactly once" means: one distinct id per outbox item.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs

from vvtv.notify.delivery import DELIVERY_ID_HEADER


@attrs.frozen
class Got:
    path: str
    delivery_id: str
    body: bytes


class Receiver:
    def __init__(self, hold_first: int = 0, hold_s: float = 0.0) -> None:
        self.arrived: list[Got] = []
        self.hold_first = hold_first
        self.hold_s = hold_s
        self.url = ""
        self._lock = threading.Lock()
        self._release = threading.Event()

    def delivery_ids(self) -> list[str]:
        with self._lock:
            return [g.delivery_id for g in self.arrived]

    def release(self) -> None:
        """Answer the held requests now (into a dead socket, if their sender was killed)."""
        self._release.set()

    def _record(self, got: Got) -> int:
        with self._lock:
            self.arrived.append(got)
            return len(self.arrived)

    @contextmanager
    def serving(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got = Got(self.path, self.headers.get(DELIVERY_ID_HEADER, ""), body)
                if receiver._record(got) <= receiver.hold_first:
                    receiver._release.wait(receiver.hold_s)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (killed mid-delivery)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._release.set()
            server.shutdown()
            server.server_close()
