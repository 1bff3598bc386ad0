"""A small synthetic QA set that a tiny model learns in seconds: who lives where, works where, was born when.

Each context states three facts about three people in random order; the question asks for one of them,
and the kind of answer (a city, a company, a year) follows from the question.
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
VOCAB = sorted(
    set(
        NAMES
        + CITIES
        + COMPANIES
        + YEARS
        + ["lives", "in", "works", "for", "was", "born", "where", "does", "live", "who", "work", "when"]
    )
)


def make_examples(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        people = rng.sample(NAMES, 3)
        facts = [
            (person, rng.choice(values), fact, question)
            for person, (fact, question, values) in zip(people, RELATIONS, strict=True)
        ]
        rng.shuffle(facts)
        context = " ".join(f.format(n=p, a=a) for p, a, f, _ in facts)
        person, answer, fact, question = rng.choice(facts)
        sentence = fact.format(n=person, a=answer)
        start = context.index(sentence) + sentence.index(answer)
        rows.append(
            {
                "id": f"syn-{seed}-{i}",
                "title": "synthetic",
                "context": context,
                "question": question.format(n=person),
                "answers": {"text": [answer], "answer_start": [start]},
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
