"""The reader engine on real tokenization with tiny random models: offsets, windows, passages."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assistant.core.decoding import DecodeSettings
from assistant.core.documents import Document
from assistant.core.engine import Answer, AskResult, EngineSettings, QAEngine, ReadSpan
from assistant.core.model_loading import load_reader
from assistant.core.passages import split_passages
from assistant.core.reader import Context, WindowSettings

ANSWER_ALL = DecodeSettings(allow_null=False, min_confidence=0.0, top_k=3)


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    from tests.conftest import WORDS
    from tests.helpers import save_tiny_model

    path = save_tiny_model(tmp_path_factory.mktemp("engine") / "m", WORDS)
    return load_reader(str(path), device="cpu", window=WindowSettings(max_length=64, stride=16, max_question_tokens=16))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=400), question=st.text(min_size=1, max_size=60))
def test_every_answer_is_the_document_slice(reader, text, question):
    assume(text.strip() and question.strip())  # an empty question is a UserError, tested below
    engine = QAEngine(reader, EngineSettings(decode=ANSWER_ALL, read_windows=1, passage_words=20))
    indexed = engine.index(Document.from_text(text))
    result = engine.ask(indexed, question)
    for answer in result.answers:
        assert text[answer.start : answer.end] == answer.text
        assert answer.text.strip() == answer.text and answer.text
        assert 0.0 <= answer.score <= 1.0
        assert text[answer.context_start : answer.context_start + len(answer.context)] == answer.context
        assert answer.context_start <= answer.start and answer.end <= answer.context_start + len(answer.context)
        assert answer.line == text.count("\n", 0, answer.start) + 1
    for span in result.passages:
        assert 0 <= span.start < span.end <= len(text)


def test_windows_cover_the_whole_context(reader):
    text = " ".join(f"w{i} the cat" for i in range(300))
    enc = reader.tokenize(["where is the cat?"], [text])
    assert len(enc["input_ids"]) > 5, "a long context must become several windows"
    covered = [False] * len(text)
    for w, offsets in enumerate(enc["offset_mapping"]):
        assert len(enc["input_ids"][w]) <= reader.window.max_length
        for (s, e), seq in zip(offsets, enc.sequence_ids(w), strict=True):
            if seq == 1:
                for i in range(s, e):
                    covered[i] = True
    missing = [i for i, c in enumerate(covered) if not c and not text[i].isspace()]
    assert missing == []


def test_answer_far_past_512_tokens_is_reachable(reader):
    """The notebook truncated at 512 tokens; every window is read, so late text can be answered."""
    filler = " ".join(["the cat sat on the mat."] * 200)
    text = filler + " zebra"
    windows = reader.read([("what?", [Context(text)])])[0]
    last = max(max(o[1] for o in w.offsets if o is not None) for w in windows)
    assert last == len(text)


def test_long_question_is_truncated_not_crashing(reader):
    engine = QAEngine(reader, EngineSettings(decode=ANSWER_ALL))
    indexed = engine.index(Document.from_text("The cat sat on the mat."))
    result = engine.ask(indexed, "where " * 500)
    assert result.answers


def test_empty_question_is_a_user_error(reader):
    from assistant.core.errors import UserError

    engine = QAEngine(reader)
    indexed = engine.index(Document.from_text("The cat sat on the mat."))
    with pytest.raises(UserError):
        engine.ask(indexed, "   ")


def test_long_document_reads_only_the_best_passages(reader):
    paragraphs = [f"Paragraph {i} talks about the weather and nothing else." for i in range(200)]
    paragraphs[137] = "The zebra sat on the golden mat near the river."
    text = "\n\n".join(paragraphs)
    engine = QAEngine(reader, EngineSettings(decode=ANSWER_ALL, read_windows=1))
    indexed = engine.index(Document.from_text(text))
    assert not indexed.read_whole
    result = engine.ask(indexed, "Where did the zebra sit?")
    read_text = sum(p.end - p.start for p in result.passages)
    assert read_text < len(text) / 20
    target = text.index("The zebra")
    assert any(p.start <= target < p.end for p in result.passages)
    assert all(any(p.start <= a.start and a.end <= p.end for p in result.passages) for a in result.answers)


def test_a_first_question_tokenizes_only_the_passages_it_ranks(reader):
    """A cold `assistant ask` on a long document must not tokenize the whole document to pick a few passages."""
    text = "\n\n".join(f"Paragraph {i} talks about the weather and nothing else at all." for i in range(3000))
    engine = QAEngine(reader, EngineSettings(decode=ANSWER_ALL, read_windows=1))
    indexed = engine.index(Document.from_text(text))
    counted: list[str] = []

    def count(texts: list[str]) -> list[int]:
        counted.extend(texts)
        return reader.token_lengths(texts)

    spans = indexed.select("Which paragraph talks about weather?", reader.context_token_budget("q"), count)
    assert spans and len(counted) < len(indexed.passages) / 10


def test_short_document_is_read_whole(reader):
    text = "The cat sat on the mat.\n\nThe dog ran in the park."
    engine = QAEngine(reader, EngineSettings(decode=ANSWER_ALL))
    indexed = engine.index(Document.from_text(text))
    assert indexed.read_whole
    result = engine.ask(indexed, "where?")
    assert [(p.start, p.end) for p in result.passages] == [(0, 23), (25, len(text))], "a paragraph break stays"


def test_threshold_gives_no_answer(reader):
    engine = QAEngine(reader, EngineSettings(decode=replace(ANSWER_ALL, min_confidence=0.99)))
    result = engine.ask(engine.index(Document.from_text("The cat sat on the mat.")), "where?")
    assert result.answers == [] and result.no_answer_reason


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
        min_size=1,
        max_size=8,
    )
)
def test_passages_are_exact_slices_in_order(paragraphs):
    text = "\n\n".join(paragraphs)
    passages = split_passages(text, max_words=7)
    last_end = 0
    for p in passages:
        assert text[p.start : p.end] == p.text and p.text.strip() == p.text and p.text
        assert p.start >= last_end
        last_end = p.end
        assert len(p.text.split()) <= 7
    joined = "".join(text[p.start : p.end] for p in passages)
    assert "".join(joined.split()) == "".join(text.split())


def test_ask_result_round_trips_through_json(reader):
    engine = QAEngine(reader, EngineSettings(decode=ANSWER_ALL))
    result = engine.ask(engine.index(Document.from_text("The cat sat on the mat.\n\nThe dog ran.")), "where?")
    assert result.answers
    rebuilt = AskResult.from_json(json.loads(json.dumps(result.to_json())))
    assert rebuilt.to_json() == result.to_json()
    for a, b in zip(rebuilt.answers, result.answers, strict=True):
        assert replace(a, score=b.score, raw_score=b.raw_score) == b, "everything but the rounded scores is exact"
        assert a.score == pytest.approx(b.score, abs=1e-4) and a.raw_score == pytest.approx(b.raw_score, abs=1e-4)
    assert [(p.start, p.end) for p in rebuilt.passages] == [(p.start, p.end) for p in result.passages]


def test_from_json_fills_missing_optional_keys():
    answer = Answer.from_json({"text": "mat", "start": 19})
    assert answer == Answer("mat", 19, 22, 0.0, 0.0, 1, "mat", 19)
    older = Answer.from_json({"text": "mat", "start": 19, "end": 22, "score": 0.5, "line": 2, "context": "a mat"})
    assert (older.raw_score, older.context_start) == (0.5, 19)
    empty = AskResult.from_json({"question": "q?"})
    assert (empty.answers, empty.passages, empty.timings, empty.no_answer_reason) == ([], [], {}, None)
    full = AskResult.from_json({"passages": [{"start": 0, "end": 5}], "no_answer_reason": "below the threshold"})
    assert full.passages == [ReadSpan(0, 5, 0.0)] and full.no_answer_reason == "below the threshold"


@pytest.mark.parametrize(
    ("text", "page", "cited"),
    [
        ("on the mat", None, "notes.txt · line 3"),
        ("8080.\nBob maintains", None, "notes.txt · lines 3–4"),
        ("a\n\nb", None, "notes.txt · lines 3–5"),
        ("8080.\nBob", 2, "notes.txt · page 2"),
    ],
)
def test_an_answer_cites_every_line_it_spans(text, page, cited):
    answer = Answer(text, 10, 10 + len(text), 0.9, 1.0, 3, text, 10, path="notes.txt", page=page)
    assert answer.source == cited
