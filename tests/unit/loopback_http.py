"""A file server on 127.0.0.1 for download tests (unit and QGIS): real sockets, no Earthdata host.

It answers 401 unless the request carries ``Authorization: Bearer <token>``, serves byte ranges
(206 + ``Content-Range``), can drop a connection a third of the way through a file once
(``drop_once``), or send a third and then wait for an event before the rest (``hold``), and
records every ``Range`` start it was asked for (``ranges``).
"""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, List, Set, Tuple


class LoopbackServer(ThreadingHTTPServer):
    """``files`` maps URL paths (``/name``) to bodies; see the module docstring for the rest."""

    daemon_threads = True

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.files: Dict[str, bytes] = {}
        self.drop_once: Set[str] = set()
        self.hold: Dict[str, threading.Event] = {}
        self.ranges: List[Tuple[str, int]] = []
        self.served: List[str] = []

    def url(self, name: str) -> str:
        """The URL of ``/name`` on this server."""
        return "http://127.0.0.1:{}/{}".format(self.server_address[1], name)

    def serve(self, name: str, body: bytes) -> str:
        """Serve ``body`` as ``/name``; returns its URL."""
        self.files["/" + name] = body
        return self.url(name)


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        if self.headers.get("Authorization") != "Bearer " + server.token:
            self.send_response(401)
            self.send_header("Content-Length", "12")
            self.end_headers()
            self.wfile.write(b"Unauthorized")
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            server.ranges.append((self.path, start))
            self.send_response(206)
            self.send_header("Content-Range", "bytes {}-{}/{}".format(start, len(body) - 1, len(body)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        third = start + len(body) // 3
        try:
            if self.path in server.drop_once:
                server.drop_once.discard(self.path)
                self.wfile.write(body[start:third])
                self.wfile.flush()
                self.close_connection = True
                return
            gate = server.hold.get(self.path)
            if gate is not None:
                self.wfile.write(body[start:third])
                self.wfile.flush()
                gate.wait(60)
                start = third
            self.wfile.write(body[start:])
            server.served.append(self.path)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (cancel): nothing to do
            self.close_connection = True


@contextmanager
def loopback_server(token: str) -> Iterator[LoopbackServer]:
    """A running :class:`LoopbackServer` for the block (held requests are released at the end)."""
    server = LoopbackServer(token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        for gate in server.hold.values():
            gate.set()
        server.shutdown()
        server.server_close()


def closed_port_url(name: str) -> str:
    """A URL on 127.0.0.1 whose port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:{}/{}".format(port, name)
