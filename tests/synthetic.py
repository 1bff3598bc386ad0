"""A small synthetic QA set that a tiny model learns in seconds: who lives where, works where, was born when.

Each context states three facts about three people in random order; the question asks for one of them,
and the kind of answer (a city, a company, a year) follows from the question.

A "user's document" (``make_document_examples``) asks new kinds of question (who plays what, drives what)
about contexts that also state the known kinds of fact: annotations on it teach a reader something new,
and can make it forget what it knew.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]
CITIES = ["paris", "london", "tokyo", "lima", "cairo", "oslo", "rome", "delhi", "quito", "seoul"]
COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "wayne", "stark", "tyrell"]
YEARS = ["1950", "1961", "1972", "1983", "1994", "2005"]
RELATIONS = [
    ("{n} lives in {a}.", "where does {n} live?", CITIES),
    ("{n} works for {a}.", "who does {n} work for?", COMPANIES),
    ("{n} was born in {a}.", "when was {n} born?", YEARS),
]
DOCUMENT_RELATIONS = [
    ("{n} plays the {a}.", "what does {n} play?", ["piano", "violin", "drums", "flute", "cello", "guitar", "harp"]),
    ("{n} drives a {a}.", "what does {n} drive?", ["volvo", "fiat", "tesla", "honda", "ford", "mini", "saab"]),
]
Relation = tuple[str, str, list[str]]


def _words(relations: list[Relation], extra: list[str]) -> list[str]:
    return [w for fact, question, values in relations for w in values] + extra


KNOWN_WORDS = ["lives", "in", "works", "for", "was", "born", "where", "does", "live", "who", "work", "when"]
VOCAB = sorted(set(NAMES + _words(RELATIONS, KNOWN_WORDS)))
DOCUMENT_VOCAB = sorted(
    set(VOCAB + _words(DOCUMENT_RELATIONS, ["plays", "the", "drives", "a", "what", "does", "play", "drive"]))
)
"""A tokenizer built on this knows the words of both the known facts and the document's."""


def _row(rng: random.Random, row_id: str, relations: list[Relation], askable: list[Relation]) -> dict:
    """One context stating a fact of each relation about a different person, and a question on an askable one."""
    people = rng.sample(NAMES, len(relations))
    facts = [
        (person, rng.choice(values), fact, question)
        for person, (fact, question, values) in zip(people, relations, strict=True)
    ]
    rng.shuffle(facts)
    context = " ".join(f.format(n=p, a=a) for p, a, f, _ in facts)
    asked = {fact for fact, _, _ in askable}
    person, answer, fact, question = rng.choice([f for f in facts if f[2] in asked])
    sentence = fact.format(n=person, a=answer)
    start = context.index(sentence) + sentence.index(answer)
    return {
        "id": row_id,
        "title": "synthetic",
        "context": context,
        "question": question.format(n=person),
        "answers": {"text": [answer], "answer_start": [start]},
    }


def make_examples(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [_row(rng, f"syn-{seed}-{i}", RELATIONS, RELATIONS) for i in range(n)]


def make_document_examples(n: int, seed: int = 0) -> list[dict]:
    """Questions only of the document's new kinds, on contexts that also state two known kinds of fact."""
    rng = random.Random(seed)
    return [
        _row(rng, f"doc-{seed}-{i}", DOCUMENT_RELATIONS + rng.sample(RELATIONS, 2), DOCUMENT_RELATIONS)
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
