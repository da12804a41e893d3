"""The reader: a child process that fetches and parses a backlog while the daemon classifies and drafts.

Why a process: in a first sync of 2,000 messages, parsing is about a fifth of the daemon's CPU, and fetching
(imaplib's reading, imapclient's parsing of the answer) holds the GIL as well. In a child both run on the
machine's other core, beside the daemon's thread that classifies, decides, drafts and records. The child only
reads: it EXAMINEs the folder and fetches with BODY.PEEK on a connection of its own, and answers with parsed
messages. Everything that is recorded or written stays in the daemon, so a child that dies loses nothing: its
batches are then fetched and parsed by the daemon itself (see ``FolderWorker._read``).

Measured (``benchmarks/imap_backlog.py``, README): classifying in the child as well made the child the slower
of the two on a 2-core machine (it then also loads NumPy, SciPy and the model, about 0.3 s, and its memory
doubles), so the child stays small: ``imapclient``, the parser, and the pure-Python work of
:mod:`bot.prepare` (the model's vocabularies come with the request; no NumPy).

The protocol is pickles over the child's stdin and stdout (both ends are this module):

- daemon -> child: the :class:`ImapAccount`, the folder, the UIDs of the batches to read, in order, and the
  :class:`~bot.prepare.Ahead` work to do on each message;
- child -> daemon: ``("ready",)`` or ``("failed", reason)`` after logging in, then per batch
  ``("ok", Batch)``, or ``("imap-error", reason)`` and nothing more.

The child fetches the next batch while it parses one, and runs at most about a batch ahead
of the daemon (its answers wait in the pipe until the daemon reads them).

The child exits once it has answered every batch; when the daemon stops reading (it stopped the sync, or
stopped altogether: the child's next answer meets a closed pipe); and when the daemon dies, kill -9
included (on Linux the kernel sends it SIGKILL then; elsewhere the closed pipe ends it a batch later).
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from bot.config import ImapAccount
from bot.errors import MentorboxError
from bot.imap_source import ImapConnectError, Mailbox
from bot.models import ParsedMail
from bot.parser import parse_mail
from bot.prepare import Ahead, prepare
from classifier.children import module_command

@dataclass
class Batch:
    """What the child answers for a batch: the UIDs asked for, the folder's UIDVALIDITY, the parsed messages."""

    uids: list[int]
    """The UIDs asked for (the messages the server still had are in ``mails``)."""
    uidvalidity: int
    mails: dict[int, ParsedMail]
    unparsed: dict[int, bytes] = field(default_factory=dict)
    """Messages the parser failed on here, as fetched: the daemon parses them again and records the failure
    (a message's failure is recorded against it, never a stopped reader)."""


class ReaderFailed(MentorboxError):
    """The reader process could not start, log in or answer; the daemon then reads the mail itself."""


class Reader:
    """The daemon's side of one reader process (started for a sync with a backlog, closed at its end)."""

    def __init__(self, account: ImapAccount, folder: str, batches: Sequence[Sequence[int]],
                 ahead: Ahead | None = None) -> None:
        command, env = module_command("bot.reader")  # (this very copy of mentorbox, whatever the directory)
        try:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        except OSError as exc:
            raise ReaderFailed(f"cannot start the reader process: {exc}") from None
        self._ready = False
        self.broken = False
        """Set once the child failed: the daemon reads the rest of the sync's mail itself."""
        # The request carries the model's vocabularies (some 400 KB): more than a pipe holds, so writing it
        # waits for the child to start up and read it (0.1 s). A thread writes it while the daemon goes on.
        self._request_failed: ReaderFailed | None = None
        request = (account, folder, [list(b) for b in batches], ahead or Ahead())
        self._requesting = threading.Thread(target=self._request, args=(request,), name="reader-request",
                                            daemon=True)
        self._requesting.start()

    def _request(self, request: object) -> None:
        try:
            self._send(request)
        except ReaderFailed as exc:
            self._request_failed = exc

    def next(self, uids: Sequence[int]) -> Batch:
        """The next batch, which must be ``uids``, parsed; fetched with BODY.PEEK (nothing marked read).

        Raises :class:`ImapConnectError` when the server failed (as a fetch in the daemon would) and
        :class:`ReaderFailed` when the child itself did; either way the child is of no more use.
        """
        try:
            if not self._ready:
                self._requesting.join()
                if self._request_failed is not None:
                    raise self._request_failed
                answer = self._receive()
                if answer[0] != "ready":
                    raise ReaderFailed(f"the reader process could not start: {answer[1]}")
                self._ready = True
            answer = self._receive()
            if answer[0] == "ok" and (not isinstance(answer[1], Batch) or answer[1].uids != list(uids)):
                raise ReaderFailed("the reader process answered for other messages than the daemon expected")
        except ReaderFailed:
            self.broken = True
            raise
        if answer[0] == "ok":
            return answer[1]
        self.broken = True  # the child has stopped: its connection is gone
        if answer[0] == "imap-error":
            raise ImapConnectError(answer[1])
        raise ReaderFailed(f"the reader process answered {answer[0]!r}")

    def close(self) -> None:
        """Close the pipes (a child still working meets the closed pipe at its next answer) and reap it."""
        if self._requesting.is_alive():  # the child has not even read its request: nothing of it is lost
            self._proc.kill()
            self._requesting.join()
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _send(self, item: object) -> None:
        assert self._proc.stdin is not None
        try:
            pickle.dump(item, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
        except (OSError, pickle.PicklingError) as exc:
            raise ReaderFailed(f"the reader process stopped: {exc}") from None

    def _receive(self) -> Any:
        assert self._proc.stdout is not None
        try:
            answer = pickle.load(self._proc.stdout)
        except Exception as exc:  # noqa: BLE001 - EOF, a broken pipe, a damaged pickle: all mean it stopped
            raise ReaderFailed(f"the reader process stopped ({self._proc.poll()}): {exc or 'no answer'}") from None
        if not isinstance(answer, tuple) or not answer:
            raise ReaderFailed("the reader process answered nonsense")
        return answer


NICE = 10
"""How much lower the child's CPU priority is than the daemon's (see :func:`main`)."""


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the daemon dies (PR_SET_PDEATHSIG: strictly, when the daemon
    thread that started it ends, and the reader lives within one sync of that thread); elsewhere the closed
    pipe ends it at its next answer."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """The child's work: log in, then fetch, parse and prepare (:mod:`bot.prepare`) the batches asked for,
    in order."""

    def send(item: object) -> None:
        pickle.dump(item, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()

    try:
        account, folder, batches, work = pickle.load(stdin)
    except (EOFError, pickle.UnpicklingError, OSError):
        return 0  # the daemon went away before its request was whole (killed, or stopped at once)
    try:
        mailbox = Mailbox(account)
    except MentorboxError as exc:
        send(("failed", str(exc)))
        return 0
    try:
        uidvalidity, _ = mailbox.select(folder, readonly=True)
        send(("ready",))
        with ThreadPoolExecutor(max_workers=1) as fetcher:  # the next batch comes in while this one is parsed
            ahead = fetcher.submit(mailbox.fetch, batches[0]) if batches else None
            for n, uids in enumerate(batches):
                assert ahead is not None
                try:
                    raws = ahead.result()
                except MentorboxError as exc:
                    send(("imap-error", str(exc)))
                    return 0
                ahead = fetcher.submit(mailbox.fetch, batches[n + 1]) if n + 1 < len(batches) else None
                batch = _parsed(uids, uidvalidity, raws)
                del raws
                for mail in batch.mails.values():
                    try:
                        prepare(mail, work)
                    except Exception:  # noqa: BLE001 - the daemon does what is missing, and records any failure
                        pass
                send(("ok", batch))
    except MentorboxError as exc:  # the folder could not be selected
        send(("failed", str(exc)))
    except BrokenPipeError:
        pass  # the daemon went away (or stopped the sync) mid-answer
    finally:
        mailbox.close()
    return 0


def _parsed(uids: list[int], uidvalidity: int, raws: dict[int, bytes]) -> Batch:
    """The batch's messages parsed; one the parser fails on (it should not: see :func:`parse_mail`) goes
    back unparsed, so that the daemon records its failure and the others go on."""
    batch = Batch(uids, uidvalidity, {})
    for uid, raw in raws.items():
        try:
            batch.mails[uid] = parse_mail(raw)
        except Exception:  # noqa: BLE001 - the daemon records it, with the error, against this message
            batch.unparsed[uid] = raw
    return batch


def main() -> int:
    """``python -m bot.reader``: started by the daemon, never by hand."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the daemon's to handle: it stops reading us
    _die_with_parent()
    # The child runs a batch or two ahead of the daemon, which waits for nothing else from it: when the two
    # cores are busy, the daemon's thread and the mail server (storing the drafts) should get them first.
    os.nice(NICE)
    return serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    from bot.reader import main as run  # this module under its own name, so that pickles name bot.reader.Batch

    sys.exit(run())
