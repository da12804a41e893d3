"""Retraining through the CLI: report, install, refusal of a worse model, --force, --rollback, --dry-run,
training folders, and the safety checks on model files."""

from __future__ import annotations

import json
import mailbox
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import Store
from classifier.artifact import ModelStore
from classifier.corpus import load_corpus
from classifier.manager import ModelHolder
from tests.test_cli import run

LABELS = ["congratulation", "advice_request", "phd_offer", "job_lead", "other"]


def _pointer(config_file: Path) -> dict[str, str]:
    return json.loads((config_file.parent / "model" / "CURRENT.json").read_text())


def _versions(config_file: Path) -> list[str]:
    return sorted(p.name for p in (config_file.parent / "model" / "versions").iterdir())


def _poison_store(config_file: Path, n: int = 700) -> None:
    """Corrections that teach the wrong label for corpus messages: a retrain on them must get worse."""
    store = Store(config_file.parent / "state.sqlite3")
    rng = random.Random(7)
    train = [e for e in load_corpus() if not e.held_out]
    for example in rng.sample(train, n):
        wrong = LABELS[(LABELS.index(example.label) + 1) % len(LABELS)]
        store.add_feedback(wrong, old_label=example.label, sender=example.mail.sender,
                           subject=example.mail.subject, body=example.mail.clean_text)
    store.close()


def test_retrain_reports_and_installs(config_file: Path) -> None:
    before = _pointer(config_file)
    done = run("retrain", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    for text in ("stratified 5-fold cross-validation", "corpus held-out", "confusion matrix", "macro-F1",
                 "verdict:", "installed model"):
        assert text in done.stdout
    for stage in range(1, 7):
        assert f"[{stage}/6]" in done.stderr
    after = _pointer(config_file)
    assert after["current"] != before["current"] and after["previous"] == before["current"]


def test_dry_run_changes_nothing(config_file: Path) -> None:
    before = _pointer(config_file), _versions(config_file)
    done = run("retrain", "--dry-run", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert "dry run: nothing was saved or installed" in done.stdout
    assert (_pointer(config_file), _versions(config_file)) == before


def test_worse_model_is_refused_then_forced_then_rolled_back(config_file: Path) -> None:
    """Given corrections that poison the model, retrain refuses it; --force installs it; --rollback undoes."""
    original = _pointer(config_file)["current"]
    _poison_store(config_file)
    refused = run("retrain", "--config", str(config_file))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "verdict: worse" in refused.stdout and "not installed" in refused.stdout
    assert _pointer(config_file)["current"] == original

    forced = run("retrain", "--force", "--config", str(config_file))
    assert forced.returncode == 0, forced.stderr
    assert "(forced)" in forced.stdout
    pointer = _pointer(config_file)
    assert pointer["current"] != original and pointer["previous"] == original

    back = run("retrain", "--rollback", "--config", str(config_file))
    assert back.returncode == 0, back.stderr
    assert f"now using model {original}" in back.stdout
    assert _pointer(config_file)["current"] == original


def test_owner_corrections_are_held_out_and_reported(config_file: Path) -> None:
    store = Store(config_file.parent / "state.sqlite3")
    for i in range(40):
        store.add_feedback("job_lead", old_label="other", sender=f"Recruiter {i} <r{i}@talent.example>",
                           subject="Opportunity", body=f"Hi Kai, we have a research engineer opening #{i} for you. "
                           "Could we schedule a call this week? I can refer you directly to the hiring manager.")
    store.close()
    done = run("retrain", "--dry-run", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert "owner's held-out" in done.stdout
    assert "read 40 corrections from the store" in done.stderr


def test_local_training_folder(config_file: Path, tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Leads")
    for i in range(5):
        box.add(f"From: hr{i}@lab.example\r\nSubject: Interview\r\n\r\nWe would like to interview you, Kai.\r\n")
    config_file.write_text(config_file.read_text() + f'\n[classifier.train_folders]\n"{tmp_path / "Leads"}" = "job_lead"\n')
    done = run("retrain", "--dry-run", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert "Leads: 5 messages as job_lead" in done.stderr
    assert "read 5 messages from 1 training folder(s)" in done.stderr


def test_rollback_without_previous_is_a_clear_error(config_file: Path) -> None:
    done = run("retrain", "--rollback", "--config", str(config_file))
    assert done.returncode == 1
    assert done.stderr.startswith("mentorbox: error: no previous model to roll back to")


def test_model_from_another_sklearn_is_still_served(config_file: Path, tmp_path: Path) -> None:
    """Triage reads serving.npz (plain arrays): a scikit-learn upgrade does not force a retrain."""
    models = ModelStore(config_file.parent / "model")
    version = models.pointer()["current"]
    sidecar = models.dir / "versions" / version / "model.json"
    meta = json.loads(sidecar.read_text())
    meta["sklearn_version"] = "0.24.2"
    sidecar.write_text(json.dumps(meta))
    one = tmp_path / "m.eml"
    one.write_bytes(b"From: a@x.org\r\nSubject: hi\r\n\r\nCongratulations!\r\n")
    done = run("triage", str(one), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == "congratulation" and "retraining" not in done.stderr
    assert models.pointer()["current"] == version


def test_old_model_without_serving_file_from_another_sklearn_is_rebuilt(config_file: Path, tmp_path: Path) -> None:
    """A version saved before serving.npz existed is read from its pipeline, which needs its scikit-learn."""
    models = ModelStore(config_file.parent / "model")
    version = models.pointer()["current"]
    sidecar = models.dir / "versions" / version / "model.json"
    meta = json.loads(sidecar.read_text())
    one = tmp_path / "m.eml"
    one.write_bytes(b"From: a@x.org\r\nSubject: hi\r\n\r\nCongratulations!\r\n")
    del meta["serving_sha256"]
    (models.dir / "versions" / version / "serving.npz").unlink()
    sidecar.write_text(json.dumps(meta))
    done = run("triage", str(one), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0 and "retraining" not in done.stderr, "same scikit-learn: its pipeline serves"
    assert json.loads(done.stdout)["label"] == "congratulation"
    assert models.has_serving(version) and (models.dir / "versions" / version / "serving.npz").exists(), \
        "the served form is written once, from the pipeline"
    (models.dir / "versions" / version / "serving.npz").unlink()
    meta["sklearn_version"] = "0.24.2"  # (this copy of the sidecar has no serving_sha256)
    sidecar.write_text(json.dumps(meta))
    done = run("triage", str(one), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert "built with scikit-learn 0.24.2" in done.stderr and "retraining it from data" in done.stderr
    assert models.pointer()["current"] != version


@pytest.mark.parametrize("name", ["serving.npz", "model.json"])
def test_tampered_model_file_is_not_loaded(config_file: Path, tmp_path: Path, name: str) -> None:
    models = ModelStore(config_file.parent / "model")
    version = models.pointer()["current"]
    path = models.dir / "versions" / version / name
    if name == "model.json":  # a sidecar that vouches for another file
        meta = json.loads(path.read_text())
        meta["serving_sha256"] = "0" * 64
        path.write_text(json.dumps(meta))
    else:
        with open(path, "ab") as fh:
            fh.write(b"tampered")
    one = tmp_path / "m.eml"
    one.write_bytes(b"From: a@x.org\r\nSubject: hi\r\n\r\nCongratulations!\r\n")
    done = run("triage", str(one), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert "the serving file of" in done.stderr and "does not match the sha256 in its sidecar" in done.stderr
    assert models.pointer()["current"] != version, "rebuilt from data"


def test_writable_by_others_is_refused(config_file: Path, tmp_path: Path) -> None:
    models = ModelStore(config_file.parent / "model")
    path = models.dir / "versions" / models.pointer()["current"] / "serving.npz"
    os.chmod(path, 0o666)
    one = tmp_path / "m.eml"
    one.write_bytes(b"From: a@x.org\r\n\r\nhi\r\n")
    done = run("triage", str(one), "--config", str(config_file), "--format", "jsonl")
    assert done.returncode == 1
    assert "refusing to load" in done.stderr and "group or others can write it" in done.stderr


def test_holder_picks_up_a_new_model_without_restart(config_file: Path) -> None:
    messages: list[str] = []
    holder = ModelHolder(config_file.parent / "model", messages.append)
    first = holder.get().version
    assert holder.get().version == first
    done = run("retrain", "--force", "--config", str(config_file))
    assert done.returncode == 0, done.stderr
    assert holder.get().version != first
    assert any(m.startswith("switched to model") for m in messages)


@pytest.mark.parametrize("flags", [["--rollback", "--force"], ["--rollback", "--dry-run"]])
def test_rollback_combinations_are_usage_errors(config_file: Path, flags: list[str]) -> None:
    done = run("retrain", *flags, "--config", str(config_file))
    assert done.returncode == 2 and "cannot be combined" in done.stderr


def test_the_daemons_retrain_runs_in_a_child_process(config_file: Path) -> None:
    """Telegram's /retrain trains in a child (scikit-learn's memory leaves with it): the candidate comes back
    saved and not installed, with the child's progress lines; a failing child is a clear error."""
    from bot.config import load_config
    from bot.errors import MentorboxError
    from bot.retraining import build_candidate_in_child

    config = load_config(config_file)
    models = ModelStore(config.classifier.model_dir)
    before = models.pointer()["current"]
    lines: list[str] = []
    candidate = build_candidate_in_child(config, say=lines.append)
    assert candidate.version and candidate.version in _versions(config_file)
    assert candidate.current_version == before and models.pointer()["current"] == before
    assert candidate.verdict in ("better", "not worse", "worse") and "macro-F1" in candidate.report
    assert any(line.startswith("read the corpus") for line in lines)
    check = subprocess.run([sys.executable, "-c", "import sys, bot.retraining, bot.telegram_bot; "
                            "print('sklearn' in sys.modules)"], capture_output=True, text=True, check=True)
    assert check.stdout.strip() == "False", "the daemon's side of a retrain loads no scikit-learn"

    models.pointer_path.write_text("{damaged")
    with pytest.raises(MentorboxError, match=r"the retrain failed: .*CURRENT.json is unreadable"):
        build_candidate_in_child(config, say=lines.append)


def test_a_daemon_adds_the_served_form_of_an_old_model_in_a_child(config_file: Path) -> None:
    """A model dir from before session 6 (no serving.npz): the daemon's ModelHolder has a child write it and
    serves the same version, without scikit-learn in the daemon."""
    models = ModelStore(config_file.parent / "model")
    version = models.pointer()["current"]
    sidecar = models.dir / "versions" / version / "model.json"
    meta = json.loads(sidecar.read_text())
    del meta["serving_sha256"]
    sidecar.write_text(json.dumps(meta))
    (models.dir / "versions" / version / "serving.npz").unlink()
    script = ("import sys; from pathlib import Path; from classifier.manager import ModelHolder; "
              f"print(ModelHolder(Path({str(models.dir)!r}), print).get().version); "
              "print('sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == [version, "False"]
    assert models.has_serving(version) and models.pointer()["current"] == version

