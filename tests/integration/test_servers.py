"""The daemon against each real server the suite runs, Dovecot and Cyrus IMAP, where they differ.

(The main paths run on both in test_daemon.py: ``run --once`` drafting and a second run adding nothing,
IDLE picking up new mail.)

Cyrus differs from Dovecot where it matters here: it sends SPECIAL-USE flags in lower case (``\\drafts``), a
renamed Drafts folder keeps its flag, it refuses to delete a special-use folder, and its IDLE is served by a
separate ``idled``.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest

from tests.cyrus import set_special_use
from tests.dovecot import Dovecot, clean_client, start_dovecot
from tests.integration.conftest import with_imap
from tests.integration.test_daemon import ANSWERED, _rows, _sample_messages, crlf
from tests.test_cli import run

SAMPLE = 16
"""Sample messages per test: enough for several labels and drafts, few enough to keep each run short."""


def _samples() -> list[bytes]:
    """The first sample messages with CRLF line ends (Cyrus refuses "bare newlines", as RFC 5322 allows it to)."""
    return crlf(_sample_messages()[:SAMPLE])


def _drafts_in(client, folder: str) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    """The messages in ``folder``, each checked to carry the \\Draft flag."""
    client.select_folder(folder, readonly=True)
    uids = client.search("ALL")
    data = client.fetch(uids, [b"BODY.PEEK[]", b"FLAGS"]) if uids else {}
    client.unselect_folder()
    assert all(b"\\Draft" in item[b"FLAGS"] for item in data.values())
    return [email.message_from_bytes(item[b"BODY[]"], policy=policy.default) for item in data.values()]


@pytest.fixture(scope="module")
def dovecot_brouillons() -> Iterator[Dovecot]:
    """A Dovecot whose Drafts folder is called "Brouillons" (a French mailbox): no folder named Drafts."""
    with start_dovecot(drafts="Brouillons") as server:
        yield server


@pytest.fixture(params=["dovecot_brouillons", "cyrus"])
def localized(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """A server and a client whose Drafts folder is "Brouillons", found only by its SPECIAL-USE flag (on
    Cyrus the folder was renamed: the flag, in lower case, went with it)."""
    server = request.getfixturevalue(request.param)
    with clean_client(server) as client:
        if client.folder_exists("Drafts"):
            client.rename_folder("Drafts", "Brouillons")
        yield server, client


def test_a_localized_drafts_folder_is_found_by_special_use(localized: tuple[Any, Any], config_file: Path,
                                                           env: dict[str, str]) -> None:
    """Given no folder named Drafts but one flagged \\Drafts (``\\drafts`` on Cyrus), when the daemon runs,
    then the drafts go there and no other folder is created."""
    server, client = localized
    config = with_imap(config_file, server)
    for raw in _samples():
        client.append("INBOX", raw)
    done = run("run", "--once", "--config", str(config), env=env)
    assert done.returncode == 0, done.stderr
    deserving = [r for r in _rows(config) if r["label"] in ANSWERED]
    assert deserving and len(_drafts_in(client, "Brouillons")) == len(deserving)
    assert sorted(name for _f, _s, name in client.list_folders()) == ["Brouillons", "INBOX", "Sent", "Trash"]
    checked = run("check-config", "--connect", "--config", str(config), env=env)
    assert checked.returncode == 0 and "drafts: Brouillons" in checked.stdout, checked.stdout


def test_check_config_fails_when_no_drafts_folder_is_found(cyrus, config_file: Path,  # type: ignore[no-untyped-def]
                                                           env: dict[str, str]) -> None:
    """Given a mailbox whose drafts folder has neither the \\Drafts flag nor a name that says so, when
    ``check-config --connect`` runs, then it fails (exit 1) and says which setting to make, because
    ``run`` cannot work without it."""
    with clean_client(cyrus) as client:
        client.rename_folder("Drafts", "Entwürfe")
        set_special_use(client, "Entwürfe", None)
        config = with_imap(config_file, cyrus)
        done = run("check-config", "--connect", "--config", str(config), env=env)
        assert done.returncode == 1, done.stdout
        assert "no Drafts folder found" in done.stdout and "drafts_folder" in done.stdout
        assert "all checks passed" not in done.stdout and "Traceback" not in done.stderr
        set_special_use(client, "Entwürfe", "\\Drafts")  # for the next test's clean-up


@pytest.fixture(scope="module")
def cyrus_classic() -> Iterator[Any]:
    """Cyrus in its classic layout (Courier's too): every folder under ``INBOX.``, ``.`` as separator."""
    from tests.conftest import cyrus_or_skip
    from tests.cyrus import start_cyrus

    with cyrus_or_skip(lambda: start_cyrus(altnamespace=False)) as server:
        yield server


def test_moves_go_under_inbox_where_the_server_keeps_every_folder(cyrus_classic, config_file: Path,  # type: ignore[no-untyped-def]
                                                                  env: dict[str, str]) -> None:
    """Given a server whose personal folders all live under ``INBOX.`` (it refuses ``Triage/Other`` as a
    name and any folder outside INBOX), when originals are moved to ``Triage/Other`` as configured, then
    they land in ``INBOX.Triage.Other``, and the drafts in ``INBOX.Drafts`` (found by its flag)."""
    client = cyrus_classic.client()
    try:
        for raw in _samples():
            client.append("INBOX", raw)
        config = with_imap(config_file, cyrus_classic, 'move_to_folders = { other = "Triage/Other" }\n')
        done = run("run", "--once", "--config", str(config), env=env)
        assert done.returncode == 0, done.stderr
        assert "refused" not in done.stderr, done.stderr
        rows = _rows(config)
        others = [r for r in rows if r["label"] == "other"]
        client.select_folder("INBOX.Triage.Other", readonly=True)
        assert len(client.search("ALL")) == len(others) > 0
        client.select_folder("INBOX", readonly=True)
        assert len(client.search("ALL")) == len(rows) - len(others)
        assert len(_drafts_in(client, "INBOX.Drafts")) == sum(1 for r in rows if r["label"] in ANSWERED) > 0
    finally:
        client.logout()
