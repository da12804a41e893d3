"""Fixtures shared by the tests of the daemon against the suite's Dovecot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dovecot import PASSWORD, Dovecot, clean_client


@pytest.fixture
def imap(dovecot: Dovecot):  # type: ignore[no-untyped-def]
    """A logged-in client on an emptied mailbox (INBOX, Drafts, Sent empty; other folders removed)."""
    with clean_client(dovecot) as client:
        yield client


@pytest.fixture
def daemon_config(config_file: Path, dovecot: Dovecot) -> Path:
    config_file.write_text(
        config_file.read_text()
        + f'\n[imap]\nhost = "localhost"\nport = {dovecot.tls_port}\nusername = "test"\n'
          f'password_env = "MBX_TEST_PW"\nca_file = "{dovecot.ca_file}"\nbatch_size = 20\n'
    )
    return config_file


@pytest.fixture(params=["dovecot", "cyrus"])
def server(request: pytest.FixtureRequest) -> Any:
    """Each of the suite's real servers in turn: Dovecot, then Cyrus (lower-case SPECIAL-USE flags)."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def server_imap(server: Any):  # type: ignore[no-untyped-def]
    """A logged-in client of ``server`` on an emptied mailbox with its standard folders."""
    with clean_client(server) as client:
        yield client


@pytest.fixture
def server_config(config_file: Path, server: Any) -> Path:
    """The daemon's config pointing at ``server`` (implicit TLS, its private CA)."""
    return with_imap(config_file, server)


def with_imap(config_file: Path, server: Any, extra: str = "") -> Path:
    """``config_file`` with an [imap] section for the test user on ``server``."""
    config_file.write_text(
        config_file.read_text()
        + f'\n[imap]\nhost = "localhost"\nport = {server.tls_port}\nusername = "test"\n'
          f'password_env = "MBX_TEST_PW"\nca_file = "{server.ca_file}"\nbatch_size = 20\n{extra}'
    )
    return config_file


@pytest.fixture
def env(isolated_env: dict[str, str]) -> dict[str, str]:
    return {**isolated_env, "MBX_TEST_PW": PASSWORD}
