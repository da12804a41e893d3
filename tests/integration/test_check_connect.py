"""check-config --connect against a real Dovecot: TLS modes, a private CA, the drafts folder, bad logins."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.dovecot import PASSWORD, Dovecot
from tests.test_cli import run


def _config(tmp_path: Path, server: Dovecot, *, tls: str, port: int, password_env: str = "MBX_TEST_PW",
            extra: str = "") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[imap]\nhost = "localhost"\nport = {port}\ntls = "{tls}"\nusername = "test"\n'
        f'password_env = "{password_env}"\nca_file = "{server.ca_file}"\n{extra}'
    )
    return path


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_connect_reports_folders_and_drafts(dovecot: Dovecot, tmp_path: Path, isolated_env: dict[str, str],
                                            tls: str) -> None:
    port = dovecot.tls_port if tls == "implicit" else dovecot.port
    config = _config(tmp_path, dovecot, tls=tls, port=port)
    env = {**isolated_env, "MBX_TEST_PW": PASSWORD}
    done = run("check-config", "--connect", "--config", str(config), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "logged in; IDLE yes; folders: INBOX" in done.stdout
    assert "drafts: Drafts" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr


def test_wrong_password_is_one_clear_line(dovecot: Dovecot, tmp_path: Path, isolated_env: dict[str, str]) -> None:
    config = _config(tmp_path, dovecot, tls="implicit", port=dovecot.tls_port)
    env = {**isolated_env, "MBX_TEST_PW": "wrong-password-xyz"}
    done = run("check-config", "--connect", "--config", str(config), env=env)
    assert done.returncode == 1
    assert "refused the login of 'test'" in done.stdout
    assert done.stdout.count("FAIL") == 1 and "1 problem(s) found" in done.stdout, done.stdout
    assert "wrong-password-xyz" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_certificate_is_verified(dovecot: Dovecot, tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """Without the private CA the self-signed server certificate must be rejected, not silently accepted."""
    config = tmp_path / "c.toml"
    config.write_text(f'[imap]\nhost = "localhost"\nport = {dovecot.tls_port}\nusername = "test"\n'
                      'password_env = "MBX_TEST_PW"\n')
    done = run("check-config", "--connect", "--config", str(config), env={**isolated_env, "MBX_TEST_PW": PASSWORD})
    assert done.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in done.stdout or "certificate verify failed" in done.stdout


def test_missing_folder_is_reported(dovecot: Dovecot, tmp_path: Path, isolated_env: dict[str, str]) -> None:
    config = _config(tmp_path, dovecot, tls="implicit", port=dovecot.tls_port,
                     extra='folders = ["INBOX", "Nope"]\n')
    done = run("check-config", "--connect", "--config", str(config), env={**isolated_env, "MBX_TEST_PW": PASSWORD})
    assert done.returncode == 1
    assert "folder 'Nope' does not exist" in done.stdout


def test_unreachable_server(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(f'[imap]\nhost = "127.0.0.1"\nport = {free}\nusername = "u"\npassword_env = "MBX_TEST_PW"\n')
    done = run("check-config", "--connect", "--config", str(config), env={**isolated_env, "MBX_TEST_PW": "x"})
    assert done.returncode == 1
    assert f"cannot connect to IMAP server 127.0.0.1:{free}" in done.stdout


def test_dovecot_fixture_is_real(dovecot: Dovecot) -> None:
    """The server is a real Dovecot process that speaks IMAP with the SPECIAL-USE folders the tests rely on."""
    client = dovecot.client()
    try:
        assert client.has_capability("IDLE") and client.has_capability("UIDPLUS")
        assert client.find_special_folder(b"\\Drafts") == "Drafts"
    finally:
        client.logout()
    assert "dovecot" in subprocess.run(["ps", "-o", "comm=", "-p", str(dovecot.proc.pid)], capture_output=True,
                                       text=True).stdout
    assert os.path.exists(dovecot.conf)


def test_connections_share_a_tls_context_until_the_ca_file_changes(dovecot: Dovecot, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The context (20 ms of CPU to load) is made once, but a CA file rewritten in place is read again."""
    from bot.config import load_config
    from bot.errors import MentorboxError
    from bot.imap_source import connect, ssl_context

    ca = tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(ca)], check=True, capture_output=True)
    # (a CA that did not sign Dovecot's certificate)
    config = _config(tmp_path, dovecot, tls="implicit", port=dovecot.tls_port)
    config.write_text(config.read_text().replace(dovecot.ca_file, str(ca)))
    monkeypatch.setenv("MBX_TEST_PW", PASSWORD)
    account = load_config(config).accounts[0]
    assert ssl_context(account) is ssl_context(account)
    with pytest.raises(MentorboxError, match="certificate verify failed"):
        connect(account)

    before = ca.stat()
    ca.write_text(Path(dovecot.ca_file).read_text())
    os.utime(ca, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))  # even on a coarse clock
    client = connect(account)
    try:
        assert client.noop()
    finally:
        client.logout()


def test_implicit_tls_on_a_plain_port_says_what_to_set(dovecot: Dovecot, tmp_path: Path,
                                                      isolated_env: dict[str, str]) -> None:
    """Found in a new-user trial: implicit TLS against port 143 said only ``WRONG_VERSION_NUMBER``."""
    config = _config(tmp_path, dovecot, tls="implicit", port=dovecot.port)
    done = run("check-config", "--connect", "--config", str(config), env={**isolated_env, "MBX_TEST_PW": PASSWORD})
    assert done.returncode == 1
    assert 'does not start with TLS: for a port that needs STARTTLS, usually 143, set tls = "starttls"' in done.stdout


def test_a_configured_drafts_folder_that_does_not_exist_is_not_called_found(dovecot: Dovecot, tmp_path: Path,
                                                                          isolated_env: dict[str, str]) -> None:
    """Found in a new-user trial: the ok line said "drafts: Entwürfe" before the FAIL line said it was missing."""
    config = _config(tmp_path, dovecot, tls="implicit", port=dovecot.tls_port, extra='drafts_folder = "Entwürfe"\n')
    done = run("check-config", "--connect", "--config", str(config), env={**isolated_env, "MBX_TEST_PW": PASSWORD})
    assert done.returncode == 1
    assert "drafts: Entwürfe (does not exist)" in done.stdout and "folder 'Entwürfe' does not exist" in done.stdout
