"""The digest text, for a fixed clock."""

from __future__ import annotations

from datetime import datetime

from bot.digest import render_digest


def test_digest_counts_leads_and_due_promises() -> None:
    now = datetime(2026, 2, 20, 8, 0)
    created = datetime(2026, 2, 3, 10, 0).timestamp()
    leads = [
        {"id": 7, "label": "job_lead", "correspondent": "Priya <p@deepmind.com>", "subject": "Referral",
         "state": "waiting", "priority": 1, "promise_due": "2026-02-17", "created_at": created},
        {"id": 9, "label": "phd_offer", "correspondent": "Prof. Li <li@x.edu>", "subject": "PhD", "state": "new",
         "priority": 0, "promise_due": None, "created_at": created},
    ]
    text = render_digest(now, {"congratulation": 40, "job_lead": 1}, {"advice_request": 5}, leads)
    assert "New in the last 24 hours: 41: congratulation 40, job lead 1" in text
    assert "Drafts waiting for you: 5: advice request 5" in text
    assert "Open leads: 2 (1 priority)" in text
    assert ' ! #7 job lead from Priya <p@deepmind.com>: "Referral" (waiting, 17 d old, promised by 2026-02-17)' in text
    assert "Promises due or overdue: 1" in text and "#7 Priya <p@deepmind.com>: due 2026-02-17, 3 d overdue" in text


def test_empty_digest() -> None:
    text = render_digest(datetime(2026, 2, 20, 8, 0), {}, {}, [])
    assert "New in the last 24 hours: 0\n" in text and "Open leads: 0" in text and "Promises due or overdue: 0" in text


def test_a_huge_subject_stays_one_short_line() -> None:
    """Given a lead whose subject is 1 MB with newlines and escapes in it, when the digest is rendered (it is
    also sent to Telegram), then its line stays short and no control character is in the text."""
    lead = {"id": 7, "label": "job_lead", "correspondent": "Mal\x1b[31m <m@x.org>",
            "subject": "Offer\n2026 forged line \x1b]0;t\x07 " + "x" * 1_000_000, "state": "new", "priority": 1,
            "promise_due": "2026-02-17", "created_at": datetime(2026, 2, 3, 10, 0).timestamp()}
    text = render_digest(datetime(2026, 2, 20, 8, 0), {}, {}, [lead])
    assert len(text) < 2_000
    assert "\x1b" not in text and "\x07" not in text
    assert not any(line.startswith("2026 forged") for line in text.splitlines())
    assert ' ! #7 job lead from Mal␛[31m <m@x.org>: "Offer 2026 forged line ␛]0;t␇ xxx' in text
