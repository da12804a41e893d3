"""A throw-away Cyrus IMAP server on free loopback ports, for the integration tests.

Debian's ``cyrus-imapd`` cannot be installed beside ``dovecot-imapd`` (both provide imap-server), so
``scripts/fetch-cyrus.sh`` unpacks it into ``.cache/cyrus/root`` and it runs from there: ``master`` with its
own ``imapd.conf`` and ``cyrus.conf`` in a short temp dir, users in a sasldb, the alternate namespace with
``/`` as separator (folders look as they do on Dovecot: ``Drafts``, not ``INBOX.Drafts``), Drafts, Sent and
Trash created at the first login with their SPECIAL-USE flags (which Cyrus sends in lower case: ``\\drafts``).

Started like the suite's Dovecot: its own process group (teardown kills master and every imapd it forked),
through the PR_SET_PDEATHSIG launcher (a killed test run leaves no server behind), ready at its greeting.
Cyrus logs only to syslog; what it prints at start and its per-user protocol log (``conf/log/test``) are
what a failure shows.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import ssl
import subprocess
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.dovecot import _STOP_WITH_US, PASSWORD, USERS, ImapServer, _free_port, _wait_greeting, empty_mailbox

ROOT = Path(__file__).resolve().parents[1]
CYRUS_ROOT = ROOT / ".cache" / "cyrus" / "root"
FETCH = ROOT / "scripts" / "fetch-cyrus.sh"
ARCH = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
"""Where Debian puts the libraries (what scripts/fetch-cyrus.sh unpacks follows the same layout)."""

IMAPD_CONF = """\
configdirectory: {d}/conf
partition-default: {d}/spool
sievedir: {d}/sieve
servername: localhost
cyrus_user: {user}
cyrus_group: {group}
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {d}/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
altnamespace: {altnamespace}
unixhierarchysep: {altnamespace}
autocreate_quota: 0
autocreate_inbox_folders: Drafts|Sent|Trash
autocreate_subscribe_folders: Drafts|Sent|Trash
xlist-drafts: Drafts
xlist-sent: Sent
xlist-trash: Trash
idlesocket: {d}/run/idle
lmtpsocket: {d}/run/lmtp
notifysocket: {d}/run/notify
tls_server_cert: {d}/cert.pem
tls_server_key: {d}/key.pem
imapidlepoll: 1
maxlogins_per_user: 0
"""

CYRUS_CONF = """\
START {{
  recover cmd="{bin}/ctl_cyrusdb -r -C {d}/imapd.conf"
}}
SERVICES {{
  imap cmd="{bin}/imapd -C {d}/imapd.conf" listen="127.0.0.1:{p1}" prefork=1
  imaps cmd="{bin}/imapd -s -C {d}/imapd.conf" listen="127.0.0.1:{p2}" prefork=1
}}
EVENTS {{
}}
DAEMON {{
  idled cmd="{bin}/idled -C {d}/imapd.conf"
}}
"""


def set_special_use(client, folder: str, flag: str | None) -> None:  # type: ignore[no-untyped-def]
    """Give ``folder`` the SPECIAL-USE ``flag`` (``None``: take it away), the RFC 6154 way Cyrus offers."""
    imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))  # RFC 5464; imaplib does not know it
    value = f'"{flag}"' if flag else "NIL"
    typ, data = client._imap._simple_command("SETMETADATA", client._normalise_folder(folder),  # noqa: SLF001
                                             f"(/private/specialuse {value})")
    if typ != "OK":
        raise RuntimeError(f"SETMETADATA {folder} {flag}: {typ} {data}")


class CyrusUnavailable(RuntimeError):
    """The Cyrus packages could not be downloaded (outside CI the tests that need it are skipped)."""


@dataclass
class Cyrus(ImapServer):
    """The suite's Cyrus IMAP."""

    name = "cyrus"

    def reset_mailbox(self, client) -> None:  # type: ignore[no-untyped-def]
        """Drafts, Sent and Trash back under their own names with their flags (a test may rename one, or take
        its SPECIAL-USE flag away: Cyrus refuses to delete a special-use folder), then emptied as on Dovecot."""
        standard = {b"\\drafts": "Drafts", b"\\sent": "Sent", b"\\trash": "Trash"}
        for flags, _sep, name in client.list_folders():
            for flag in flags:
                wanted = standard.get(flag.lower())
                if wanted and name != wanted:
                    client.rename_folder(name, wanted)
        flagged = {name: {f.lower() for f in flags} for flags, _sep, name in client.list_folders()}
        for flag, name in standard.items():
            if name not in flagged:
                client.create_folder(name)
            if flag not in flagged.get(name, ()):
                set_special_use(client, name, "\\" + name)
        empty_mailbox(client)

    def log(self) -> str:
        """What the server printed and the protocol log of the test user (Cyrus writes no log file)."""
        ended = self.proc.poll() is not None and self.proc.stdout
        out = self.proc.stdout.read().decode(errors="replace") if ended and self.proc.stdout else ""
        telemetry = Path(self.dir, "conf", "log", "test")
        lines = [out]
        for path in sorted(telemetry.glob("*"))[-3:] if telemetry.is_dir() else []:
            lines.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(lines)


def unpack() -> Path:
    """The unpacked Cyrus tree, fetched first if need be; :class:`CyrusUnavailable` if it cannot be."""
    done = subprocess.run(["bash", str(FETCH)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CyrusUnavailable(f"scripts/fetch-cyrus.sh failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return CYRUS_ROOT


def _env(root: Path) -> dict[str, str]:
    libs = f"{root}/usr/lib/{ARCH}:{root}/lib/{ARCH}"
    return {**os.environ, "LD_LIBRARY_PATH": libs, "SASL_PATH": f"{root}/usr/lib/{ARCH}/sasl2"}


def start_cyrus(*, altnamespace: bool = True) -> Cyrus:
    """Start a server or raise RuntimeError with its output and log (CyrusUnavailable: nothing to start).

    ``altnamespace=False`` gives Cyrus's classic layout, Courier's too: every folder under ``INBOX.``, with
    ``.`` as separator (``INBOX.Drafts``); a user may create no folder outside INBOX.
    """
    root = unpack()
    bin_dir = root / "usr" / "lib" / "cyrus" / "bin"
    d = tempfile.mkdtemp(prefix="cy", dir="/tmp")
    os.chmod(d, 0o755)
    who = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    for sub in ("conf", "spool", "sieve", "run", "conf/log/test"):
        os.makedirs(f"{d}/{sub}", exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", f"{d}/key.pem",
         "-out", f"{d}/cert.pem", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    p1, p2 = _free_port(), _free_port()
    group = grp.getgrgid(who.pw_gid).gr_name
    Path(d, "imapd.conf").write_text(IMAPD_CONF.format(d=d, user=who.pw_name, group=group,
                                                           altnamespace="yes" if altnamespace else "no"))
    Path(d, "cyrus.conf").write_text(CYRUS_CONF.format(d=d, bin=bin_dir, p1=p1, p2=p2))
    env = _env(root)
    for user in USERS:
        subprocess.run([str(root / "usr/sbin/saslpasswd2"), "-p", "-c", "-f", f"{d}/sasldb2", "-u", "localhost", user],
                       input=PASSWORD.encode(), check=True, capture_output=True, env=env)
    for dirpath, _dirs, files in os.walk(d):
        for name in [dirpath, *(os.path.join(dirpath, f) for f in files)]:
            os.chown(name, who.pw_uid, who.pw_gid)
    started = time.monotonic()
    proc = subprocess.Popen([*_STOP_WITH_US, str(bin_dir / "master"), "-D", "-C", f"{d}/imapd.conf",
                             "-M", f"{d}/cyrus.conf", "-p", f"{d}/run/master.pid"],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    server = Cyrus(d, p1, p2, proc)
    context = ssl.create_default_context(cafile=f"{d}/cert.pem")
    if not (_wait_greeting(p1, started + 20) and _wait_greeting(p2, started + 20, context)):
        log = server.log()
        server.stop()
        raise RuntimeError(f"cyrus did not start within 20 s:\n{log}")
    try:
        server.client().logout()  # the first login creates INBOX, Drafts, Sent and Trash
    except Exception as exc:  # noqa: BLE001 - whatever stops the login, the start failed
        log = server.log()
        server.stop()
        raise RuntimeError(f"cyrus started but the test user cannot log in ({exc}):\n{log}") from None
    return server
