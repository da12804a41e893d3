"""Fixtures shared by the tests of the daemon against the suite's Dovecot."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture
def env(isolated_env: dict[str, str]) -> dict[str, str]:
    return {**isolated_env, "MBX_TEST_PW": PASSWORD}
