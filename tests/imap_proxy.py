"""A TCP relay between the daemon and Dovecot's plain port that keeps what the client sent.

It lets a test check the IMAP commands on the wire (for instance that a client never sends IDLE to a
server that does not offer it) without reaching into the client, and, with ``rewrite``, play a server with
another server's quirks by changing what Dovecot answers, line by line. Plain text only: use ``tls = "none"``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class RecordingProxy:
    """Listen on 127.0.0.1 (:attr:`port`), relay to ``(host, port)``, record the client's bytes.

    ``rewrite`` gets each line the server sends (CRLF included; message literals pass through it too, line
    by line) and returns what the client gets instead.
    """

    def __init__(self, host: str, port: int, rewrite: Callable[[bytes], bytes] | None = None) -> None:
        self._target = (host, port)
        self._rewrite = rewrite
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._sent = bytearray()
        self._connections = 0
        self._closing = False
        threading.Thread(target=self._accept, name="imap-proxy", daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def sent(self) -> bytes:
        """Everything every client sent so far."""
        with self._lock:
            return bytes(self._sent)

    def commands(self) -> list[str]:
        """The command names the clients sent (``a001 UID FETCH ...`` -> ``UID FETCH``), in order."""
        out = []
        for line in self.sent().split(b"\r\n"):
            words = line.decode("ascii", "replace").split()
            if len(words) >= 2 and words[0][:1].isalnum() and words[1].isalpha() and words[1].isupper():
                out.append(" ".join(words[1:3]) if words[1] == "UID" and len(words) > 2 else words[1])
        return out

    def connections(self) -> int:
        with self._lock:
            return self._connections

    def close(self) -> None:
        self._closing = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            with self._lock:
                self._connections += 1
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        pending = b""
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self._sent += data
                elif self._rewrite is not None:
                    pending += data
                    whole, end, pending = pending.rpartition(b"\r\n")
                    if not end:  # no whole line yet
                        pending = whole
                        continue
                    data = b"".join(self._rewrite(line + b"\r\n") for line in whole.split(b"\r\n"))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
