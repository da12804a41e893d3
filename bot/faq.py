"""The owner's FAQ: find the questions in an advice request and match them to answers (rapidfuzz).

Advice requests ask the same dozen things in a thousand ways. We pull the question-like sentences out of
the new text (sentences with a question mark, and the usual ways to ask without one: "any advice on ...",
"I was wondering ...", "could you share ..."), compare each with every phrasing of every FAQ entry, and keep
the entries whose best score reaches the threshold. The scorer and threshold were chosen by measurement on
the labelled advice requests of the corpus (``benchmarks/faq_matching.py``); they live here as constants.
Fuzzy matching alone misses half of what people ask in their own words, so the decision *which* entries are
asked also uses a small topic model (``classifier.faq_model``); rapidfuzz says *where*, finds the questions
nothing answers, and lets a new entry match its gap at once. Pure except :func:`load_faq` (reads TOML).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rapidfuzz import fuzz, process, utils

from bot.errors import TemplateError
from bot.textfiles import utf8_text

FAQ_FILE = "faq.toml"
SCORER = fuzz.token_set_ratio
PROB_THRESHOLD = 0.35
"""Topic-model probability an entry needs to count as asked (chosen by measurement: see the README)."""
FUZZY_THRESHOLD = 85.0
"""Fuzzy score (0-100) of a question against a phrasing that counts as asked on its own."""
GAP_THRESHOLD = 55.0
"""A question scoring below this against every asked entry's phrasings is an unanswered question."""
MIN_FUZZY_WORDS = 2
"""A question needs this many words besides filler words to be fuzzy-matched at all."""
GENERIC_WORDS = 3
"""Questions this short (after dropping filler words) only make sense with the story before them."""
MAX_SENTENCE = 400

_STOPWORDS = frozenset(
    "a an the i i'm im me my you your yours u ur we our to of in on at for with and or but so if is are was were be "
    "been being am do does did it its this that these those there here have has had will would could should can "
    "just really very also please kai hi hello dear thanks thank any some about into from as by how what when "
    "where why which who whom".split()
)
_CUES = re.compile(
    r"\b(any (advice|tips?|suggestions?|thoughts|pointers|recommendations?)|i was wondering|i('m| am) wondering|"
    r"could you (share|tell|explain|give|advise|recommend)|can you (share|tell|explain|give|advise|recommend)|"
    r"would you (mind|share|recommend|advise)|i would (like|love) to (know|hear|ask)|i'?d (like|love) to (know|hear|ask)|"
    r"my question is|i want(ed)? to ask|i('m| am) curious|do you have (any )?(advice|tips|suggestions)|"
    r"please (advise|share|tell))\b",
    re.IGNORECASE,
)
_INTERROGATIVE = re.compile(
    r"^(how|what|where|when|why|which|who|should|shall|can|could|would|is|are|do|does|did|was|were|have|has)\b",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=[A-Z-•*])")


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ entry: its id, a short title, the ways people ask it, and the owner's answer."""

    id: str
    title: str
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class FaqMatch:
    """An entry judged asked: which sentence of the mail matched which phrasing, and how well."""

    id: str
    score: float
    """0-100: the model's probability x 100 or the fuzzy score, whichever is higher."""
    sentence: str
    """The question of the mail that matched the entry best ("" when only the model saw it)."""
    phrasing: str


def load_faq(templates_dir: Path) -> list[FaqEntry]:
    """Read ``faq.toml`` of a templates dir; problems are :class:`TemplateError` naming the file and entry."""
    path = templates_dir / FAQ_FILE
    if not path.exists():
        return []
    try:
        data = tomllib.loads(utf8_text(path.read_bytes(), str(path)))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{path}: {exc}") from None
    except ValueError as exc:  # not UTF-8 text: the message names the file
        raise TemplateError(str(exc)) from None
    entries: list[FaqEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("faq", [])):
        where = f"{path}: faq[{i}]"
        if not isinstance(raw, dict):
            raise TemplateError(f"{where}: expected a table")
        entry_id, answer, questions = raw.get("id"), raw.get("answer"), raw.get("questions")
        if not isinstance(entry_id, str) or not re.fullmatch(r"[a-z0-9_]+", entry_id or ""):
            raise TemplateError(f"{where}: 'id' must be a string of a-z, 0-9 and _")
        if entry_id in seen:
            raise TemplateError(f"{where}: id {entry_id!r} is used twice")
        if not isinstance(answer, str) or not answer.strip():
            raise TemplateError(f"{where} ({entry_id}): 'answer' must be a non-empty string")
        if not isinstance(questions, list) or not questions or not all(isinstance(q, str) and q.strip() for q in questions):
            raise TemplateError(f"{where} ({entry_id}): 'questions' must be a non-empty list of strings")
        unknown = set(raw) - {"id", "title", "questions", "answer"}
        if unknown:
            raise TemplateError(f"{where} ({entry_id}): unknown key(s) {', '.join(sorted(unknown))}")
        seen.add(entry_id)
        entries.append(FaqEntry(entry_id, str(raw.get("title") or entry_id), tuple(questions), answer.strip()))
    return entries


def normalise(text: str) -> str:
    """Lower-case words without punctuation or filler words: what the fuzzy scorer compares."""
    words = utils.default_process(text).split()
    return " ".join(w for w in words if w not in _STOPWORDS)


def extract_questions(text: str) -> list[str]:
    """The question-like sentences of a message's new text, in order, without duplicates."""
    out: list[str] = []
    for sentence in _SPLIT.split(text):
        sentence = " ".join(sentence.split())
        if len(sentence) < 8:
            continue
        if "?" in sentence or _CUES.search(sentence) or _INTERROGATIVE.match(sentence):
            sentence = sentence[:MAX_SENTENCE]
            if sentence not in out:
                out.append(sentence)
    return out


class TopicModel(Protocol):
    """What the matcher needs of a multi-label model (see ``classifier.faq_model.FaqModel``)."""

    ids: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> Any: ...


class FaqMatcher:
    """Decides which FAQ entries a message asks and where; built once per FAQ.

    An entry counts as asked when the topic model gives it at least ``prob_threshold``, or when one of the
    message's questions matches one of its phrasings with a fuzzy score of at least ``fuzzy_threshold`` (so
    an entry just added to ``faq.toml`` for a known gap matches that gap even before the model learns it).
    """

    def __init__(self, entries: Sequence[FaqEntry], model: TopicModel | None = None, *,
                 prob_threshold: float = PROB_THRESHOLD, fuzzy_threshold: float = FUZZY_THRESHOLD,
                 scorer: Any = SCORER) -> None:
        self.entries = {e.id: e for e in entries}
        self.model = model
        self.prob_threshold = prob_threshold
        self.fuzzy_threshold = fuzzy_threshold
        self.scorer = scorer
        self._choices = [normalise(q) for e in entries for q in e.questions]
        self._owners = [e.id for e in entries for q in e.questions]

    def _fuzzy(self, queries: dict[str, str]) -> tuple[dict[str, tuple[float, str]], dict[str, set[str]]]:
        """Best fuzzy score per entry over all questions (``queries``: each question and its :func:`normalise`
        form), with the question that got it; and per question scored, the entries with a phrasing within
        :data:`GAP_THRESHOLD` of it (what :meth:`match` needs to tell an unanswered question, so no question
        is scored twice)."""
        best: dict[str, tuple[float, str]] = {}
        near: dict[str, set[str]] = {}
        for sentence, query in queries.items():
            if len(query.split()) < MIN_FUZZY_WORDS:
                continue  # "where should I look?" -> "look": a subset of many phrasings, it would score 100
            close = near.setdefault(sentence, set())
            for entry_id, score in self._near(query):
                close.add(entry_id)
                if entry_id not in best or score > best[entry_id][0]:
                    best[entry_id] = (score, sentence)
        return best, near

    def _near(self, query: str) -> list[tuple[str, float]]:
        """The entries with a phrasing scoring at least :data:`GAP_THRESHOLD` against ``query`` (normalised),
        once per phrasing, with its score."""
        return [(self._owners[index], float(score)) for _choice, score, index in
                process.extract(query, self._choices, scorer=self.scorer, score_cutoff=GAP_THRESHOLD, limit=None)]

    def topics(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """The topic model's probabilities for many texts at once (one vectorisation: much faster in batches)."""
        if self.model is None or not texts:
            return [{} for _ in texts]
        rows = self.model.predict_proba(list(texts))
        return [{i: float(p) for i, p in zip(self.model.ids, row) if i in self.entries} for row in rows]

    def match(self, text: str, limit: int = 3, *, topics: dict[str, float] | None = None,
              ) -> tuple[list[FaqMatch], list[str]]:
        """The asked entries (at most ``limit``, surest first) and the questions no entry answers.

        ``topics`` are this text's probabilities from :meth:`topics` when the caller batched them.
        """
        if not self.entries:
            return [], extract_questions(text)
        questions = extract_questions(text)
        queries = {q: normalise(q) for q in questions}  # (extract_questions gives each question once)
        fuzzy, near = self._fuzzy(queries)
        probs = topics if topics is not None else (self.topics([text])[0] if text.strip() else {})
        asked = [
            i for i in self.entries
            if probs.get(i, 0.0) >= self.prob_threshold or fuzzy.get(i, (0.0, ""))[0] >= self.fuzzy_threshold
        ]
        ranked = sorted(asked, key=lambda i: -max(probs.get(i, 0.0), fuzzy.get(i, (0.0, ""))[0] / 100))[:limit]
        matches = [
            FaqMatch(i, round(max(probs.get(i, 0.0) * 100, fuzzy.get(i, (0.0, ""))[0]), 1),
                     fuzzy.get(i, (0.0, ""))[1], "")
            for i in ranked
        ]
        answered = {m.sentence for m in matches}
        matched = {m.id for m in matches}

        def unanswered(question: str) -> bool:
            if not matches:
                return True
            if question in answered or len(queries[question].split()) <= GENERIC_WORDS:
                return False  # short ones ("what would you do?") lean on the story the entries matched
            close = near.get(question)  # (scored by _fuzzy unless shorter than MIN_FUZZY_WORDS)
            if close is None:
                close = {entry_id for entry_id, _ in self._near(queries[question])}
            return not close & matched

        return matches, [q for q in questions if unanswered(q)]


GROUP_THRESHOLD = 60.0
"""How alike two unanswered questions must be (token_set_ratio on normalised text) to count as one gap."""


def group_questions(questions: Sequence[str], threshold: float = GROUP_THRESHOLD) -> list[list[int]]:
    """Group similar questions (indices into ``questions``), biggest group first.

    Greedy single pass against each group's first question: simple, stable, and good enough to show the
    owner which answer to write next; the pairwise scores are computed in one vectorised call.
    """
    normalised = [normalise(q) for q in questions]
    groups: list[list[int]] = []
    heads: list[str] = []
    for i, text in enumerate(normalised):
        # Each question is scored against the groups' first questions only, one row at a time: a matrix of
        # every pair took memory by the square of the questions (360 MB for 8,600; a flood of questions in a
        # few mails would have taken gigabytes).
        if text and heads:
            row = process.cdist([text], heads, scorer=fuzz.token_set_ratio, workers=1)[0]
            hits = (row >= threshold).nonzero()[0]
            if len(hits):
                groups[int(hits[0])].append(i)
                continue
        groups.append([i])
        heads.append(text)
    return sorted(groups, key=lambda g: (-len(g), g[0]))
