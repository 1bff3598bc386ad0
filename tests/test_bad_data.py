"""Bad data, predictions and eval flags end in one sentence that names the file: never a traceback.

The corpus is run through `assistant eval`, `python -m trainer.metrics` and `load_data`; a handful of
it through `assistant train`; hypothesis then throws arbitrary JSON and bytes at the loader.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core.errors import DataError
from assistant.squad import metric as metrics
from assistant.squad.formats import load_data
from tests.bad_inputs import Outcome, assert_one_line_failure, assistant, run_entry
from trainer import metrics as metrics_cli

CONTEXT = "The Normans were in Normandy. They gave their name to Normandy, a region in France."
ANSWER = {"text": "Normandy", "answer_start": 20}
QA = {"id": "q1", "question": "Where were the Normans?", "answers": [ANSWER]}
DROP = object()
"""A field value that means: leave the field out."""


@dataclass(frozen=True)
class Raw:
    """A JSON token that json.dumps cannot write (1e400, NaN, a 5,000-digit number)."""

    token: str


def _dump(value: Any) -> str:
    """JSON text with Raw tokens spliced in and DROP fields left out."""
    tokens: dict[str, str] = {}

    def clean(v: Any) -> Any:
        if isinstance(v, Raw):
            marker = f"@@raw{len(tokens)}@@"
            tokens[json.dumps(marker)] = v.token
            return marker
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not DROP}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    text = json.dumps(clean(value))
    for marker, token in tokens.items():
        text = text.replace(marker, token)
    return text


def squad(data: Any) -> str:
    return _dump({"version": "1.1", "data": data})


def article(**fields: Any) -> str:
    return squad([{"title": "Normans", "paragraphs": [{"context": CONTEXT, "qas": [QA]}], **fields}])


def paragraph(**fields: Any) -> str:
    return article(paragraphs=[{"context": CONTEXT, "qas": [QA], **fields}])


def qa(**fields: Any) -> str:
    return paragraph(qas=[{**QA, **fields}])


def answer(**fields: Any) -> str:
    return qa(answers=[{**ANSWER, **fields}])


ALL = frozenset({"load", "eval", "metrics"})
LOADERS = frozenset({"load", "eval"})
"""answer_start problems: the metric script scores texts only and rightly ignores answer_start."""


@dataclass(frozen=True)
class Case:
    name: str
    body: str | bytes
    suffix: str = ".json"
    via: frozenset[str] = ALL


CSV_HEAD = "id,title,context,question,answers\n"
CORPUS = [
    # top level of the wrong type
    Case("json-number", "5"),
    Case("json-string", '"abc"'),
    Case("json-null", "null"),
    Case("json-true", "true"),
    Case("json-nan", "NaN"),
    Case("json-inf", "1e400"),
    Case("json-empty-list", "[]"),
    Case("json-list-of-numbers", "[1, 2]"),
    Case("json-list-of-lists", "[[1], []]"),
    Case("json-empty-object", "{}"),
    Case("json-object-without-data", '{"version": "1.1"}'),
    Case("json-records-bad-context", '[{"context": 5, "question": "q?"}]'),
    # "data" and articles
    Case("data-string", '{"data": "abc"}'),
    Case("data-number", '{"data": 5}'),
    Case("data-null", '{"data": null}'),
    Case("data-object", '{"data": {"paragraphs": []}}'),
    Case("data-empty", '{"data": []}'),
    Case("data-list-of-numbers", '{"data": [5]}'),
    Case("data-list-of-strings", '{"data": ["abc"]}'),
    Case("data-list-of-nulls", '{"data": [null, null]}'),
    Case("article-without-paragraphs", squad([{"title": "t"}])),
    Case("paragraphs-string", article(paragraphs="abc")),
    Case("paragraphs-number", article(paragraphs=5)),
    Case("paragraphs-list-of-strings", article(paragraphs=["abc", "def"])),
    Case("paragraphs-list-of-lists", article(paragraphs=[[CONTEXT]])),
    Case("paragraphs-empty", article(paragraphs=[])),
    # paragraphs
    Case("qas-missing", paragraph(qas=DROP)),
    Case("qas-string", paragraph(qas="abc")),
    Case("qas-number", paragraph(qas=5)),
    Case("qas-object", paragraph(qas=QA)),
    Case("qas-empty", paragraph(qas=[])),
    Case("qas-list-of-strings", paragraph(qas=["q1", "q2"])),
    Case("qas-list-of-numbers", paragraph(qas=[1, 2])),
    Case("qas-list-of-nulls", paragraph(qas=[None])),
    Case("context-missing", paragraph(context=DROP)),
    Case("context-number", paragraph(context=5)),
    Case("context-list", paragraph(context=[CONTEXT])),
    Case("context-null", paragraph(context=None)),
    Case("context-empty", paragraph(context="")),
    Case("context-lone-surrogate", paragraph(context="\ud800" + CONTEXT), via=LOADERS),
    # questions
    Case("question-missing", qa(question=DROP)),
    Case("question-number", qa(question=5)),
    Case("question-null", qa(question=None)),
    Case("question-list", qa(question=["Where?"])),
    Case("question-empty", qa(question="  "), via=LOADERS),
    Case("id-missing", qa(id=DROP)),
    Case("id-null", qa(id=None)),
    Case("id-list", qa(id=["q1"])),
    Case("is-impossible-string", qa(is_impossible="yes")),
    Case("answers-missing", qa(answers=DROP)),
    Case("answers-empty-not-marked", qa(answers=[]), via=frozenset({"eval", "metrics"})),
    Case("answers-number", qa(answers=5)),
    Case("answers-string", qa(answers="Normandy")),
    Case("answers-list-of-numbers", qa(answers=[5])),
    Case("answers-list-of-strings", qa(answers=["Normandy"])),
    Case("answers-list-of-nulls", qa(answers=[None])),
    Case("answers-list-of-lists", qa(answers=[[ANSWER]])),
    Case("answers-misaligned", answer(text="Spain"), via=frozenset({"eval"})),
    # one answer
    Case("answer-text-missing", answer(text=DROP)),
    Case("answer-text-number", answer(text=1066)),
    Case("answer-text-null", answer(text=None)),
    Case("answer-text-list", answer(text=["Normandy"])),
    Case("answer-start-missing", answer(answer_start=DROP), via=LOADERS),
    Case("answer-start-1e400", answer(answer_start=Raw("1e400")), via=LOADERS),
    Case("answer-start-minus-1e400", answer(answer_start=Raw("-1e400")), via=LOADERS),
    Case("answer-start-nan", answer(answer_start=Raw("NaN")), via=LOADERS),
    Case("answer-start-5000-digits", answer(answer_start=Raw("9" * 5000))),
    Case("answer-start-huge", answer(answer_start=Raw("9" * 40)), via=LOADERS),
    Case("answer-start-true", answer(answer_start=True), via=LOADERS),
    Case("answer-start-null", answer(answer_start=None), via=LOADERS),
    Case("answer-start-list", answer(answer_start=[20]), via=LOADERS),
    Case("answer-start-string", answer(answer_start="abc"), via=LOADERS),
    Case("answer-start-fraction", answer(answer_start=20.5), via=LOADERS),
    # bytes that are not a JSON document
    Case("deep-array", "[" * 100_000),
    Case("deep-object", '{"a": ' * 100_000),
    Case("deep-in-data", '{"data": ' + "[" * 100_000),
    Case("truncated", '{"data": ['),
    Case("trailing-garbage", '{"data": []} x'),
    Case("empty", ""),
    Case("whitespace", "  \n\t\n"),
    Case("invalid-utf8", b'{"data": "\xff\xfe"}'),
    Case("utf16", squad([]).encode("utf-16")),
    Case("nul-bytes", b'{"data": []}\x00'),
    Case("binary", bytes(range(256))),
    Case("unknown-suffix", "hello", suffix=".txt"),
    # JSONL
    Case("jsonl-empty", "", suffix=".jsonl"),
    Case("jsonl-not-objects", '5\n[1]\n"x"\nnull\n', suffix=".jsonl"),
    Case("jsonl-bad-lines", "{\n{not json\n", suffix=".jsonl"),
    Case("jsonl-deep-line", "[" * 100_000 + "\n", suffix=".jsonl"),
    Case("jsonl-bad-fields", '{"context": 5, "question": "q?"}\n{"context": "c", "question": null}\n', suffix=".jsonl"),
    Case("jsonl-invalid-utf8", b'{"context": "\xff", "question": "q?"}\n', suffix=".jsonl"),
    Case("jsonl-no-answers-field", json.dumps({"context": CONTEXT, "question": "Where?"}) + "\n", suffix=".jsonl"),
    # CSV
    Case("csv-empty", "", suffix=".csv"),
    Case("csv-header-only", CSV_HEAD, suffix=".csv"),
    Case("csv-wrong-columns", "a,b\n1,2\n", suffix=".csv"),
    Case("csv-nul-bytes", (CSV_HEAD + f'1,t,"{CONTEXT}",Where?,"[]"\n').encode() + b"\x00\n", suffix=".csv"),
    Case("csv-invalid-utf8", CSV_HEAD.encode() + b'1,t,"\xff\xfe",Where?,[]\n', suffix=".csv"),
    Case("csv-answers-unparsable", CSV_HEAD + f'1,t,"{CONTEXT}",Where?,oops\n', suffix=".csv"),
    Case("csv-answers-deep", CSV_HEAD + f'1,t,"{CONTEXT}",Where?,"{"[" * 5000}"\n', suffix=".csv"),
    Case(
        "csv-answer-start-inf",
        CSV_HEAD + f"1,t,\"{CONTEXT}\",Where?,\"{{'text': 'Normandy', 'answer_start': 1e400}}\"\n",
        suffix=".csv",
    ),
]


def _cases(via: str) -> list[Any]:
    return [pytest.param(c, id=c.name) for c in CORPUS if via in c.via]


def _write(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / f"bad-{case.name}{case.suffix}"
    if isinstance(case.body, bytes):
        path.write_bytes(case.body)
    else:
        path.write_text(case.body, encoding="utf-8", errors="surrogatepass")
    return path


def _good_squad(tmp_path: Path, name: str = "good.json") -> Path:
    path = tmp_path / name
    path.write_text(article())
    return path


def _eval(capsys: pytest.CaptureFixture[str], model: Path, data: Path, *extra: str) -> Outcome:
    out = data.parent / "eval-out.json"
    return assistant(
        capsys, "eval", "--model", str(model), "--data", str(data), "--device", "cpu", "--output", str(out), *extra
    )


def _metrics(capsys: pytest.CaptureFixture[str], data: Path, preds: Path, *extra: str) -> Outcome:
    return run_entry(capsys, metrics_cli.main, [str(data), str(preds), *extra])


# ---------------------------------------------------------------- the corpus, three ways


@pytest.mark.parametrize("case", _cases("load"))
def test_load_data_refuses_in_one_sentence(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    with pytest.raises(DataError) as exc:
        load_data(str(path))
    message = str(exc.value)
    assert path.name in message and "\n" not in message


@pytest.mark.parametrize("case", _cases("eval"))
def test_assistant_eval_refuses_in_one_sentence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path, case: Case
) -> None:
    path = _write(tmp_path, case)
    assert_one_line_failure(_eval(capsys, tiny_model_dir, path), path.name)
    assert not (tmp_path / "eval-out.json").exists()


@pytest.mark.parametrize("case", _cases("metrics"))
def test_metrics_script_refuses_in_one_sentence(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    preds = tmp_path / "preds.json"
    preds.write_text('{"q1": "Normandy"}')
    assert_one_line_failure(_metrics(capsys, path, preds), path.name)


TRAIN_CASES = [
    "data-string",
    "deep-array",
    "invalid-utf8",
    "csv-nul-bytes",
    "qas-list-of-strings",
    "answer-start-1e400",
]


@pytest.mark.parametrize("name", TRAIN_CASES)
def test_assistant_train_refuses_before_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path, name: str
) -> None:
    path = _write(tmp_path, next(c for c in CORPUS if c.name == name))
    argv = ["--base", str(tiny_model_dir), "--output", str(tmp_path / "run"), "--device", "cpu", "--max-steps", "1"]
    outcome = assistant(capsys, "train", "--data", str(path), *argv, "--events-only")
    assert_one_line_failure(outcome, path.name)
    phases = {json.loads(line)["phase"] for line in outcome.out.splitlines() if line.startswith("{")}
    assert "train" not in phases and "eval" not in phases


def test_train_refuses_bad_extra_and_eval_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    good = _good_squad(tmp_path)
    bad = _write(tmp_path, Case("data-number", '{"data": 5}'))
    base = ["train", "--base", str(tiny_model_dir), "--data", str(good), "--device", "cpu", "--events-only"]
    for i, flag in enumerate(["--extra-data", "--eval-data", "--replay-data"]):
        outcome = assistant(capsys, *base, "--output", str(tmp_path / f"run{i}"), flag, str(bad))
        assert_one_line_failure(outcome, bad.name)


# ---------------------------------------------------------------- files that cannot be read


def test_missing_directory_and_socket_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.json")  # exists, is not a directory, and open() fails even for root
    try:
        good = _good_squad(tmp_path)
        preds = _write_named(tmp_path, "preds", '{"q1": "Normandy"}')
        for path in (tmp_path / "missing.json", tmp_path / "adir.json", tmp_path / "sock.json"):
            if path.name == "adir.json":
                path.mkdir()
            with pytest.raises(DataError, match=path.name):
                load_data(str(path))
            assert_one_line_failure(_eval(capsys, tiny_model_dir, path), path.name)
            assert_one_line_failure(_metrics(capsys, path, good), path.name)
            assert_one_line_failure(_metrics(capsys, good, path), path.name)
            assert_one_line_failure(_metrics(capsys, good, preds, "--na-prob", str(path)), path.name)
    finally:
        sock.close()


def test_permission_denied_is_a_data_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _good_squad(tmp_path)
    locked = _good_squad(tmp_path, "locked.json")
    real_open = os.open

    def deny(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)  # the one opener every read goes through
    with pytest.raises(DataError, match="ermission denied"):
        load_data(str(locked))
    assert_one_line_failure(_eval(capsys, tiny_model_dir, locked), locked.name, "permission denied")
    assert_one_line_failure(_metrics(capsys, locked, good), locked.name, "permission denied")
    assert_one_line_failure(_metrics(capsys, good, locked), locked.name, "permission denied")


# ---------------------------------------------------------------- predictions and --na-prob

PREDICTIONS = [
    ("preds-list", '["Normandy"]'),
    ("preds-string", '"Normandy"'),
    ("preds-null", "null"),
    ("preds-number-value", '{"q1": 5}'),
    ("preds-null-value", '{"q1": null}'),
    ("preds-list-value", '{"q1": ["Normandy"]}'),
    ("preds-object-value", '{"q1": {"text": "Normandy"}}'),
    ("preds-lone-surrogate", '{"q1": "\\ud800"}'),
    ("preds-empty-object", "{}"),
    ("preds-no-overlap", '{"other": "Normandy"}'),
    ("preds-empty-file", ""),
    ("preds-invalid-json", "{"),
    ("preds-deep", "[" * 100_000),
    ("preds-invalid-utf8", b'{"q1": "\xff"}'),
]
NA_PROBS = [
    ("na-list", "[0.5]"),
    ("na-number", "0.5"),
    ("na-string-value", '{"q1": "0.5"}'),
    ("na-null-value", '{"q1": null}'),
    ("na-bool-value", '{"q1": true}'),
    ("na-nan-value", '{"q1": NaN}'),
    ("na-infinity-value", '{"q1": Infinity}'),
    ("na-out-of-range", '{"q1": 1.5}'),
    ("na-negative", '{"q1": -0.1}'),
    ("na-missing-ids", '{"other": 0.5}'),
    ("na-empty-file", ""),
    ("na-invalid-json", "{"),
    ("na-deep", '{"q1": ' * 100_000),
]


def _write_named(tmp_path: Path, name: str, body: str | bytes) -> Path:
    return _write(tmp_path, Case(name, body))


@pytest.mark.parametrize(("name", "body"), PREDICTIONS, ids=[n for n, _ in PREDICTIONS])
def test_metrics_refuses_bad_predictions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, body: str | bytes
) -> None:
    preds = _write_named(tmp_path, name, body)
    assert_one_line_failure(_metrics(capsys, _good_squad(tmp_path), preds), preds.name)


@pytest.mark.parametrize(("name", "body"), NA_PROBS, ids=[n for n, _ in NA_PROBS])
def test_metrics_refuses_bad_na_prob(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, body: str | bytes
) -> None:
    na = _write_named(tmp_path, name, body)
    preds = _write_named(tmp_path, "preds", '{"q1": "Normandy"}')
    assert_one_line_failure(_metrics(capsys, _good_squad(tmp_path), preds, "--na-prob", str(na)), na.name)


def test_metrics_partial_predictions_warn_and_score_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "two.json"
    data.write_text(paragraph(qas=[QA, {**QA, "id": "q2"}]))
    preds = _write_named(tmp_path, "preds", '{"q1": "Normandy", "extra": "x"}')
    outcome = _metrics(capsys, data, preds)
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out) == {"exact_match": 50.0, "f1": 50.0}
    assert "1 of 2 questions" in outcome.err and "Traceback" not in outcome.err


def test_metrics_output_keeps_full_precision(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "three.json"
    data.write_text(paragraph(qas=[{**QA, "id": f"q{i}"} for i in range(3)]))
    preds = _write_named(tmp_path, "preds", '{"q0": "Normandy", "q1": "x", "q2": "x"}')
    outcome = _metrics(capsys, data, preds)
    assert outcome.code == 0, outcome.err
    assert json.loads(outcome.out)["exact_match"] == pytest.approx(100 / 3, abs=1e-12)
    assert metrics.compute({"a": "red car"}, {"a": ["big red car door"]})["f1"] == pytest.approx(200 / 3, abs=1e-12)


# ---------------------------------------------------------------- eval flags


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", ""])
def test_eval_limit_must_be_a_positive_whole_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path, limit: str
) -> None:
    outcome = _eval(capsys, tiny_model_dir, _good_squad(tmp_path), "--limit", limit)
    assert_one_line_failure(outcome, "--limit")


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_eval_output_is_checked_before_the_model_loads(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    from assistant.core import model_loading

    def no_loading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model was loaded before --output was checked")

    monkeypatch.setattr(model_loading, "load_reader", no_loading)
    (tmp_path / "afile").write_text("x")
    output = tmp_path / "outdir" if where == "directory" else tmp_path / "afile" / "eval.json"
    if where == "directory":
        output.mkdir()
    data = _good_squad(tmp_path)
    argv = ["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output", str(output)]
    assert_one_line_failure(assistant(capsys, *argv), "--output", output.name)


def test_eval_on_good_data_still_works(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = tmp_path / "v2.json"
    data.write_text(
        paragraph(qas=[{**QA, "is_impossible": False}, {**QA, "id": "q2", "answers": [], "is_impossible": True}])
    )
    outcome = _eval(capsys, tiny_model_dir, data, "--limit", "5")
    assert outcome.code == 0, outcome.err
    result = json.loads(outcome.out)
    assert result["questions"] == 2 and math.isfinite(result["f1"])
    assert json.loads((tmp_path / "eval-out.json").read_text())["f1"] == result["f1"]


# ---------------------------------------------------------------- valid shapes that must keep loading


def test_squad_sample_still_loads_in_full(squad_sample: Path) -> None:
    data = load_data(str(squad_sample))
    assert (len(data.examples), data.malformed, data.version_2) == (626, 0, True)


def test_utf8_bom_and_a_few_bad_rows_among_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + paragraph(qas=[QA, {**QA, "id": "q2", "question": 5}, "junk"]).encode())
    data = load_data(str(path))
    assert [e.id for e in data.examples] == ["q1"] and data.malformed == 2


# ---------------------------------------------------------------- fuzz

SQUAD_KEYS = ["data", "paragraphs", "qas", "context", "question", "id", "answers", "text", "answer_start"]
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from([*SQUAD_KEYS, "is_impossible", "answer_text"]) | st.text(max_size=4), kids, max_size=5
        )
    ),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document where a value could be swapped for another."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


TEMPLATE = json.loads(paragraph(qas=[QA, {**QA, "id": "q2", "is_impossible": True, "answers": []}]))
TEMPLATE_PATHS = list(_paths(TEMPLATE))


def _mutate(path: tuple[Any, ...], value: Any) -> Any:
    doc = json.loads(json.dumps(TEMPLATE))
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _loads_or_refuses(path: Path) -> None:
    """The loader's whole contract: usable data, or a DataError that names the file."""
    try:
        data = load_data(str(path))
    except DataError as exc:
        assert path.name in str(exc) and "\n" not in str(exc)
    else:
        assert data.examples and all(isinstance(e.question, str) and isinstance(e.context, str) for e in data.examples)
        assert all(
            isinstance(a.text, str) and isinstance(a.answer_start, int) for e in data.examples for a in e.answers
        )
    try:
        refs = metrics.references_from_squad(path)
    except DataError as exc:
        assert path.name in str(exc)
    else:
        assert refs and all(isinstance(g, str) for golds in refs.values() for g in golds)


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(value=JSON_VALUES)
def test_fuzz_arbitrary_json(tmp_path: Path, value: Any) -> None:
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(value), encoding="utf-8", errors="surrogatepass")
    _loads_or_refuses(path)


@FUZZ
@given(where=st.sampled_from(TEMPLATE_PATHS), value=JSON_VALUES)
def test_fuzz_one_field_of_real_squad(tmp_path: Path, where: tuple[Any, ...], value: Any) -> None:
    path = tmp_path / "fuzz-field.json"
    path.write_text(json.dumps(_mutate(where, value)), encoding="utf-8", errors="surrogatepass")
    _loads_or_refuses(path)


@FUZZ
@given(body=st.binary(max_size=400), suffix=st.sampled_from([".json", ".jsonl", ".csv"]))
def test_fuzz_arbitrary_bytes(tmp_path: Path, body: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz-bytes{suffix}"
    path.write_bytes(body)
    _loads_or_refuses(path)
