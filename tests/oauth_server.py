"""A tiny OAuth 2.0 token introspection endpoint (RFC 7662) on 127.0.0.1, for Dovecot's oauth2 passdb.

Dovecot POSTs ``token=...`` (form-encoded) and reads ``active`` and ``username`` from the JSON answer, as it
would from Google's or Microsoft's. The tests decide which tokens are active (``activate`` / ``revoke``), which
is how an access token "expires" here, and read back which tokens were presented (``seen``).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class IntrospectionServer:
    """Start with :meth:`start`, point Dovecot at :attr:`url`, :meth:`stop` at the end."""

    def __init__(self) -> None:
        self._active: dict[str, str] = {}
        self._seen: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
                token = (form.get("token") or [""])[0]
                with owner._lock:
                    owner._seen.append(token)
                    user = owner._active.get(token)
                body = json.dumps({"active": True, "username": user} if user else {"active": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="introspection", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/introspect"

    def start(self) -> IntrospectionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def activate(self, token: str, user: str = "test") -> None:
        with self._lock:
            self._active[token] = user

    def revoke(self, token: str) -> None:
        with self._lock:
            self._active.pop(token, None)

    def seen(self) -> list[str]:
        """Every token presented so far, in order (a token may appear more than once)."""
        with self._lock:
            return list(self._seen)

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()
