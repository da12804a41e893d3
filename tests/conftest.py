"""Shared fixtures: a trained model (once per session), sample paths, and a real Dovecot server."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MBOX = ROOT / "examples" / "sample.mbox"
NASTY = ROOT / "tests" / "fixtures" / "nasty"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained once from the shipped corpus, in a private dir (copied per test that changes it)."""
    from classifier.manager import ensure_model

    path = tmp_path_factory.mktemp("model") / "model"
    ensure_model(path, lambda _: None)
    return path


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for a CLI subprocess: its own data and config dirs, so nothing of the user's is touched."""
    env = dict(os.environ)
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("MENTORBOX_CONFIG", None)
    return env


@pytest.fixture
def config_file(tmp_path: Path, model_dir: Path) -> Path:
    """A minimal config that points at the session's trained model (copied, so tests may change it)."""
    private = tmp_path / "model"
    shutil.copytree(model_dir, private)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[owner]\nname = "Kai Andersen"\naddress = "kai@andersen.dk"\n\n'
        f'[classifier]\nmodel_dir = "{private}"\n\n[store]\npath = "{tmp_path / "state.sqlite3"}"\n'
    )
    return path


@pytest.fixture(scope="session")
def dovecot() -> Iterator[object]:
    """A real Dovecot on 127.0.0.1 for the whole session; fails (never skips) if it cannot start."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.dovecot import start_dovecot

    with start_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def cyrus() -> Iterator[object]:
    """A real Cyrus IMAP on 127.0.0.1 for the whole session, unpacked from Debian's packages by
    scripts/fetch-cyrus.sh. It fails with the server's log if it cannot start; it skips only outside CI, and
    only when the packages cannot be downloaded."""
    from tests.cyrus import start_cyrus

    with cyrus_or_skip(start_cyrus) as server:
        yield server


def cyrus_or_skip(start: Callable[[], Any]) -> Any:
    """``start()``'s server; a failure to download Cyrus fails the test in CI and skips it elsewhere."""
    from tests.cyrus import CyrusUnavailable

    try:
        return start()
    except CyrusUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Cyrus is needed in CI: {exc}")
        pytest.skip(f"Cyrus IMAP could not be downloaded: {exc}")
