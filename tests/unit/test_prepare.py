"""Work done ahead in the reader process (:mod:`bot.prepare`) saves time and changes no result: prepared
messages, sent across a pickle as the reader sends them, classify, quote and draft exactly as fresh ones."""

from __future__ import annotations

import mailbox as mailboxlib
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.drafting import Owner, build_reply
from bot.models import ParsedMail
from bot.parser import parse_mail
from bot.prepare import Ahead, prepare
from bot.quoting import QUOTE_LIMIT
from classifier.manager import ModelHolder
from classifier.model import TriageModel
from tests.conftest import NASTY

ROOT = Path(__file__).resolve().parents[2]
OWNER = Owner("Kai Andersen", "kai@andersen.dk", "Kai")
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def model(model_dir: Path) -> TriageModel:
    return ModelHolder(model_dir, lambda _: None).get()


def _raw_mails() -> list[bytes]:
    box = mailboxlib.mbox(ROOT / "examples" / "sample.mbox", create=False)
    try:
        raws = [box.get_bytes(k) for k in box.keys()]
    finally:
        box.close()
    return raws + [path.read_bytes() for path in sorted(NASTY.glob("*.eml"))]


def _prepared(raw: bytes, ahead: Ahead) -> ParsedMail:
    """Parsed and prepared as in the reader process, then handed over as the reader hands it."""
    mail = parse_mail(raw)
    prepare(mail, pickle.loads(pickle.dumps(ahead)))
    return pickle.loads(pickle.dumps(mail))  # type: ignore[no-any-return]


def test_prepared_messages_classify_quote_and_draft_as_fresh_ones(model: TriageModel) -> None:
    raws = _raw_mails()
    assert len(raws) > 40
    ahead = Ahead(models=[(model.served.key, model.served.spec)])
    prepared = [_prepared(raw, ahead) for raw in raws]
    assert all(model.served.key in m.derived and ("quote", QUOTE_LIMIT) in m.derived for m in prepared)
    fresh = [parse_mail(raw) for raw in raws]
    assert not any(m.derived for m in fresh)
    assert model.predict(prepared) == model.predict(fresh)
    for a, b in zip(prepared, fresh):
        assert build_reply(a, "Thank you!", OWNER, message_id="<d@x>", now=NOW) == \
            build_reply(b, "Thank you!", OWNER, message_id="<d@x>", now=NOW)
    assert all(model.served.key in m.derived for m in fresh), "a stage that found nothing keeps what it computed"


def test_columns_found_for_another_model_are_not_used(model: TriageModel, model_dir: Path) -> None:
    """After a retrain swaps the model mid-sync, columns the reader found for the old one are left alone."""
    raws = _raw_mails()[:20]
    old = ModelHolder(model_dir, lambda _: None).get()  # the same files, loaded again: another key
    assert old.served.key != model.served.key
    stale = []
    for raw in raws:
        mail = parse_mail(raw)
        mail.derived[old.served.key] = (b"\x00\x00\x00\x00" * 50,) * len(old.served.blocks)  # column 0, 50 times
        stale.append(mail)
    assert model.predict(stale) == model.predict([parse_mail(raw) for raw in raws])
    assert old.predict(stale) != old.predict([parse_mail(raw) for raw in raws]), "the stale columns were there"


def test_nothing_ahead_leaves_the_message_as_it_was() -> None:
    mail = parse_mail(_raw_mails()[0])
    prepare(mail, Ahead(models=[], quote=False))
    assert mail.derived == {}
