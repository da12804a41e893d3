"""FAQ: question extraction, matching with rapidfuzz, file validation, and grouping of unanswered questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.drafting import shipped_templates_dir
from bot.errors import TemplateError
from bot.faq import FaqEntry, FaqMatcher, extract_questions, group_questions, load_faq

ENTRIES = [
    FaqEntry("funding", "Funding", ("How did you fund yourself?", "how did you pay your bills without a salary",
                                    "where did the money come from while you did research"), "Savings."),
    FaqEntry("compute", "Compute", ("Where did you get GPUs?", "how did you get access to compute resources"),
             "A friend."),
]
REQUIRED_IDS = ["time_spent", "funding", "ideas", "compute", "accept_phd", "masters_prep", "better_programmer",
                "internships", "rse_without_phd", "absent_supervisor", "rejection", "independent_research",
                "encouragement"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Congrats! How did you fund yourself? Thanks.", ["How did you fund yourself?"]),
        ("I was wondering where the GPUs came from. Great blog.", ["I was wondering where the GPUs came from."]),
        ("Any advice on finding a research topic. Best, Ana", ["Any advice on finding a research topic."]),
        ("how you pay the rent when no salary\n\nthanks", ["how you pay the rent when no salary"]),
        ("Great paper. Loved the figures.", []),
    ],
)
def test_extract_questions(text: str, expected: list[str]) -> None:
    assert extract_questions(text) == expected


def test_match_finds_entries_best_first_and_reports_gaps() -> None:
    matcher = FaqMatcher(ENTRIES, fuzzy_threshold=70)
    text = ("Hi Kai! How did you manage to pay the bills without a salary? And where did you get the GPUs? "
            "Also, which color map did you use for figure 3?")
    matches, unanswered = matcher.match(text)
    assert {m.id for m in matches} == {"funding", "compute"}
    assert matches[0].score >= matches[-1].score
    assert all(m.sentence in text for m in matches)
    assert unanswered == ["Also, which color map did you use for figure 3?"]


def test_limit_keeps_the_best() -> None:
    matches, _ = FaqMatcher(ENTRIES, fuzzy_threshold=70).match(
        "How did you fund yourself? Where did you get the GPUs?", limit=1)
    assert len(matches) == 1


def test_short_question_alone_does_not_match() -> None:
    """'Where should I look?' shrinks to one word, a subset of many phrasings: it must not match by itself."""
    matches, _ = FaqMatcher(ENTRIES, fuzzy_threshold=70).match("Where should I look?")
    assert matches == []


def test_topic_model_finds_what_fuzzy_matching_cannot() -> None:
    """A situation told in statements, then "what would you do?": the model sees the topic."""
    from classifier.corpus import load_corpus
    from classifier.faq_model import train_for

    entries = load_faq(shipped_templates_dir())
    matcher = FaqMatcher(entries, train_for(entries, load_corpus()))
    text = ("My advisor has not answered an email since October and cancelled our last three meetings. "
            "The internship ends in two months and I have nothing to show. What would you do in my place?")
    matches, unanswered = matcher.match(text)
    assert "absent_supervisor" in [m.id for m in matches]
    assert unanswered == []


def test_shipped_faq_has_exactly_the_required_ids() -> None:
    entries = load_faq(shipped_templates_dir())
    assert [e.id for e in entries] == REQUIRED_IDS
    assert all(len(e.questions) >= 5 and len(e.answer) > 100 for e in entries)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[faq]]\nid = "a"\nquestions = ["q?"]\n', "'answer' must be a non-empty string"),
        ('[[faq]]\nid = "A B"\nquestions = ["q?"]\nanswer = "x"\n', "'id' must be"),
        ('[[faq]]\nid = "a"\nquestions = []\nanswer = "x"\n', "'questions' must be"),
        ('[[faq]]\nid = "a"\nquestions = ["q"]\nanswer = "x"\n[[faq]]\nid = "a"\nquestions = ["q"]\nanswer = "y"\n',
         "used twice"),
        ('[[faq]]\nid = "a"\nquestions = ["q"]\nanswer = "x"\nanwser = "typo"\n', "unknown key(s) anwser"),
        ("[[faq]\n", "faq.toml"),
    ],
)
def test_bad_faq_file_is_reported(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "faq.toml").write_text(content)
    with pytest.raises(TemplateError, match="faq.toml") as info:
        load_faq(tmp_path)
    assert message in str(info.value)


def test_group_questions_biggest_first() -> None:
    questions = [
        "Which GPU should I buy for deep learning?",
        "Is it worth moving to Canada for a PhD?",
        "what gpu should i buy for deep learning at home",
        "Which GPU would you buy for deep learning experiments?",
        "Should I move to Canada for my PhD?",
        "Do you like cats?",
    ]
    groups = group_questions(questions)
    assert [len(g) for g in groups] == [3, 2, 1]
    assert groups[0] == [0, 2, 3] and groups[1] == [1, 4]
