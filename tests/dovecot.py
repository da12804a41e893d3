"""A throw-away Dovecot IMAP server on free loopback ports, for the integration tests.

Built from the facts in shared/notes/dovecot-for-tests.md: a self-contained config (no /etc/dovecot), a
passwd-file with two users, Maildir under a short temp dir (unix socket paths are limited to ~107 bytes),
TLS with a generated certificate, its own process group so that teardown also ends the session processes.
It never skips: if Dovecot cannot start, the fixture raises and says why.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
USERS = ("test", "bot")
PASSWORD = "secret"

CONF = """\
base_dir = {d}/run
state_dir = {d}/state
instance_name = mbxtest-{p1}
protocols = imap
listen = 127.0.0.1
log_path = {d}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox {drafts} {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {p1}
  }}
  inet_listener imaps {{
    port = {p2}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # no growing delay for every login from 127.0.0.1 after a test's failed one (Dovecot's auth penalty)
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
auth_failure_delay = 0
"""

OAUTH2_CONF = """\
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
}}
"""
"""Appended when the server should also take OAuth2 bearer tokens (the later ``auth_mechanisms`` wins): the
token is checked by POSTing it to an RFC 7662 introspection endpoint, the way a real provider's is."""

OAUTH2_EXT = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_greeting(port: int, deadline: float, context: ssl.SSLContext | None = None) -> bool:
    """Ready means the '* OK' greeting: imap-login accepts TCP before the auth process is up."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                s = context.wrap_socket(raw, server_hostname="localhost") if context else raw
                if s.recv(100).startswith(b"* OK"):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


@dataclass
class ImapServer:
    """A running test server: its dir, plain/STARTTLS port, implicit-TLS port and CA file; stopped with its
    whole process group (sessions with a client still connected included)."""

    dir: str
    port: int
    tls_port: int
    proc: subprocess.Popen[bytes]

    @property
    def ca_file(self) -> str:
        return os.path.join(self.dir, "cert.pem")

    def client(self, user: str = "test", tls: bool = True):  # type: ignore[no-untyped-def]
        from imapclient import IMAPClient

        context = ssl.create_default_context(cafile=self.ca_file)
        if tls:
            c = IMAPClient("127.0.0.1", port=self.tls_port, ssl=True, ssl_context=context, timeout=10)
        else:
            c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        c.login(user, PASSWORD)
        return c

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Dovecot(ImapServer):
    """The suite's Dovecot."""

    @property
    def conf(self) -> str:
        return os.path.join(self.dir, "dovecot.conf")

    def doveadm(self, *args: str) -> str:
        return subprocess.run([DOVEADM, "-c", self.conf, *args], capture_output=True, text=True, check=True).stdout


def empty_mailbox(client) -> None:  # type: ignore[no-untyped-def]
    """INBOX and the special-use folders (Drafts, Sent, Trash, by any name) emptied, every other folder removed
    (children first)."""
    for flags, _sep, name in sorted(client.list_folders(), key=lambda f: f[2], reverse=True):
        special = any(f.lower() in (b"\\drafts", b"\\sent", b"\\trash") for f in flags)
        if name in ("INBOX", "Drafts", "Sent", "Trash") or special:
            client.select_folder(name)
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()
            client.unselect_folder()
        elif client.folder_exists(name):
            client.delete_folder(name)


def logout_quietly(client) -> None:  # type: ignore[no-untyped-def]
    """Log out at a test's end; a session the test had the server kick is already gone."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001
        pass


@contextmanager
def clean_client(server: Any) -> Iterator[Any]:
    """A logged-in client of the test user on an emptied mailbox, logged out (quietly) afterwards (a server
    with its own way back to the standard folders, :class:`tests.cyrus.Cyrus`, has a ``reset_mailbox``)."""
    client = server.client()
    getattr(server, "reset_mailbox", empty_mailbox)(client)
    try:
        yield client
    finally:
        logout_quietly(client)


_STOP_WITH_US = [sys.executable, "-c", "import ctypes, os, signal, sys; ctypes.CDLL(None).prctl(1, signal.SIGTERM);"
                 " os.execv(sys.argv[1], sys.argv[1:])"]
"""Dovecot is started through this: it asks Linux for SIGTERM when the process that started it dies (kill -9
included; PR_SET_PDEATHSIG survives the exec), so a test run or benchmark that is killed leaves no Dovecot and
no port behind. (A ``preexec_fn`` would do it in the forked child, which is not safe in a process with threads.)"""


def start_dovecot(oauth2_introspection_url: str | None = None, extra_conf: str = "", drafts: str = "Drafts",
                  ) -> Dovecot:
    """Start a server or raise RuntimeError with the reason (never skip: CI must see it).

    With ``oauth2_introspection_url`` it also offers AUTH=XOAUTH2 and OAUTHBEARER and asks that URL whether
    a token is active (see ``tests/oauth_server.py``); password logins work as before. ``extra_conf`` is
    appended to the config as it is (e.g. an ``imap_capability`` without IDLE). ``drafts`` names the folder
    that carries SPECIAL-USE \\Drafts (a localized mailbox: "Brouillons").
    """
    if not os.path.exists(DOVECOT):
        raise RuntimeError(
            f"dovecot not found at {DOVECOT}: install Debian's dovecot-imapd (scripts/test.sh does it)"
        )
    d = tempfile.mkdtemp(prefix="dc", dir="/tmp")
    os.chmod(d, 0o755)
    if os.geteuid() == 0:
        login_user, internal_user, internal_group = "dovenull", "dovecot", "dovecot"
        mail_pw = pwd.getpwnam("nobody")
    else:
        me = pwd.getpwuid(os.getuid())
        login_user = internal_user = me.pw_name
        internal_group = grp.getgrgid(os.getgid()).gr_name
        mail_pw = me
    os.makedirs(f"{d}/mail")
    os.chown(f"{d}/mail", mail_pw.pw_uid, mail_pw.pw_gid)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", f"{d}/key.pem",
         "-out", f"{d}/cert.pem", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    with open(f"{d}/users", "w") as fh:
        for user in USERS:
            fh.write(f"{user}:{{PLAIN}}{PASSWORD}:{mail_pw.pw_uid}:{mail_pw.pw_gid}::{d}/mail/{user}::\n")
    os.chmod(f"{d}/users", 0o644)
    p1, p2 = _free_port(), _free_port()
    with open(f"{d}/dovecot.conf", "w") as fh:
        fh.write(CONF.format(d=d, p1=p1, p2=p2, login_user=login_user, internal_user=internal_user,
                             internal_group=internal_group, drafts=drafts))
        if oauth2_introspection_url:
            fh.write(OAUTH2_CONF.format(d=d))
        fh.write(extra_conf)
    if oauth2_introspection_url:
        with open(f"{d}/oauth2.conf.ext", "w") as fh:
            fh.write(OAUTH2_EXT.format(url=oauth2_introspection_url))
    started = time.monotonic()
    proc = subprocess.Popen([*_STOP_WITH_US, DOVECOT, "-F", "-c", f"{d}/dovecot.conf"], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=f"{d}/cert.pem")
    if not (_wait_greeting(p1, started + 15) and _wait_greeting(p2, started + 15, context)):
        output = proc.stdout.read().decode(errors="replace") if proc.poll() is not None and proc.stdout else ""
        log = open(f"{d}/dovecot.log").read() if os.path.exists(f"{d}/dovecot.log") else ""
        server = Dovecot(d, p1, p2, proc)
        server.stop()
        raise RuntimeError(f"dovecot did not start within 15 s:\n{output}\n{log}")
    return Dovecot(d, p1, p2, proc)
