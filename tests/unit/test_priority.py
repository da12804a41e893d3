"""Lead priority: readable signals, fuzzy VIP matching, mass-mail penalties."""

from __future__ import annotations

import pytest

from bot.models import Prediction
from bot.parser import parse_mail
from bot.priority import THRESHOLD, score, vip_match


def _mail(sender: str, body: str, extra: str = "") -> object:
    return parse_mail(f"From: {sender}\r\nSubject: hello\r\n{extra}\r\n{body}\r\n".encode())


LEAD = Prediction("job_lead", 0.95, {}, ())


@pytest.mark.parametrize(
    ("vips", "sender", "body"),
    [
        (("Google DeepMind",), "Ana <ana@deepmind.com>", "Hi"),
        (("deepmind.com",), "Ana <ana@uk.deepmind.com>", "Hi"),
        (("DeepMind Technologies",), "Ana <ana@gmail.com>", "Hi Kai\n\n-- \nAna Lopes\nStaff Engineer, DeepMind"),
        (("Yoshua Bengio",), "Yoshua Bengio <yb@mila.quebec>", "Hi"),
    ],
)
def test_vip_matches_fuzzily(vips: tuple[str, ...], sender: str, body: str) -> None:
    assert vip_match(_mail(sender, body), vips) == vips[0]


def test_vip_does_not_match_strangers() -> None:
    assert vip_match(_mail("Bob <bob@deepmindful.io>", "hi"), ("deepmind.com",)) == ""
    assert vip_match(_mail("Bob <bob@x.org>", "hi"), ("Meta FAIR",)) == ""
    assert vip_match(_mail("Bob <bob@x.org>", "see the metadata"), ("Meta",)) == ""
    assert vip_match(_mail("Bob <bob@x.org>", "Bob\nResearch Scientist, Meta"), ("Meta",)) == "Meta"


def test_personal_referral_is_priority_with_reasons() -> None:
    mail = _mail("Priya Raman <priya@lab.example>", "Hi Kai, I loved your paper on memorization. I'd like to refer "
                 "you to our hiring manager; HR will call you within two weeks to schedule an interview.")
    result = score(mail, LEAD)
    assert result.priority and result.score >= THRESHOLD
    assert "referral or recommendation" in result.reasons[0] and "written to you personally" in result.reasons[0]


def test_mass_mailing_is_not_priority() -> None:
    mail = _mail("Talent Team <jobs@agency.example>", "Dear candidate, we are hiring for multiple roles at our "
                 "client. Apply here.", "List-Unsubscribe: <mailto:u@x>\r\nPrecedence: bulk\r\n")
    result = score(mail, LEAD)
    assert not result.priority
    assert "mass mailing (list headers)" in result.reasons[0]


def test_vip_makes_any_label_a_priority() -> None:
    mail = _mail("Ana <ana@deepmind.com>", "Great paper!")
    result = score(mail, Prediction("congratulation", 0.9, {}, ()), vips=("deepmind.com",))
    assert result.priority and result.reasons == ("priority: VIP 'deepmind.com'",)
    assert not score(mail, Prediction("congratulation", 0.9, {}, ())).priority


def test_patterns_are_lower_case() -> None:
    """The signal patterns run without re.I on lower-cased text: an upper-case letter in one would never match."""
    import re

    import bot.priority as priority

    for name in ("_REFERRAL", "_MEETING", "_DATES", "_SENIOR", "_PERSONAL", "_MASS"):
        pattern = getattr(priority, name)
        assert not pattern.flags & re.IGNORECASE
        assert not re.search(r"(?<!\\)[A-Z]", pattern.pattern), name


def test_signals_read_upper_case_mail() -> None:
    mail = parse_mail(b"From: HR <hr@corp.example>\r\nSubject: Role\r\n\r\nDEAR CANDIDATE, PLEASE SCHEDULE AN "
                      b"INTERVIEW BEFORE MONDAY. MY MANAGER REFERRED YOU.\r\n")
    from bot.priority import signals

    values = signals(mail, Prediction("job_lead", 0.9, {}, ()))
    assert values["mass_wording"] == values["meeting"] == values["referral"] == 1.0 and values["dates"] > 0
