"""Inference backends: ONNX Runtime reads like torch, without importing torch or transformers.

The ``tokenizer.json`` adapter must cut the same windows as the transformers fast tokenizer, the ONNX
export must give the torch logits and answers, the export is made once and cached by content, a
failed export falls back to torch in one line, and `assistant ask` answers with no torch import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from transformers import AutoTokenizer, BertTokenizer

from assistant.core import onnx_cache, onnx_export
from assistant.core.backends import OnnxBackend, TorchBackend
from assistant.core.decoding import DecodeSettings
from assistant.core.documents import Document
from assistant.core.engine import EngineSettings, QAEngine
from assistant.core.model_loading import load_reader
from assistant.core.reader import Reader, WindowSettings, tokenize_windows, truncate_question
from assistant.core.tokenizer import JsonTokenizer
from tests.conftest import WORDS
from tests.helpers import build_tokenizer

WINDOW = WindowSettings(max_length=64, stride=16, max_question_tokens=16, batch_tokens=200)

TEXTS = [
    "The cat sat on the mat.",
    "Where did the dog go? To the park, of course: it is 3.5 km away!\n\nThe cat stayed in.",
    "  Leading spaces, tabs\tand a caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 with \u201cquotes\u201d",
    "emoji \U0001f600 and CJK \u4e2d\u6587, accents A\u0301 combined.  ",
    " ".join(["the cat sat on the mat and the dog ran in the park"] * 12),
    "UPPER lower MiXeD 123456789 unknownwordzz ##hash [CLS] [SEP] [PAD]",
]
QUESTIONS = ["where did the cat sit?", "What is a dog?", "what is " + "very " * 30 + "long?"]


def _windows(tokenizer, questions, contexts) -> dict:
    enc = tokenize_windows(tokenizer, questions, contexts, WINDOW)
    n = len(enc["input_ids"])
    out = {
        key: enc[key]
        for key in ("input_ids", "offset_mapping", "overflow_to_sample_mapping", "token_type_ids")
        if key in enc
    }
    out["offset_mapping"] = [[tuple(o) for o in row] for row in out["offset_mapping"]]
    out["sequence_ids"] = [enc.sequence_ids(i) for i in range(n)]
    out["word_ids"] = [enc.word_ids(i) for i in range(n)]
    return out


@pytest.mark.parametrize("hf_class", ["auto", "bert"])
def test_tokenizer_json_cuts_the_windows_of_the_fast_tokenizer(tiny_model_dir, hf_class, tmp_path):
    if hf_class == "auto":
        folder = tiny_model_dir
        hf = AutoTokenizer.from_pretrained(str(folder))
    else:  # a BERT tokenizer also returns token type ids
        vocab = build_tokenizer(WORDS).get_vocab()
        (tmp_path / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.__getitem__)) + "\n", encoding="utf-8")
        hf = BertTokenizer(vocab_file=str(tmp_path / "vocab.txt"))
        folder = tmp_path / "saved"
        hf.save_pretrained(folder)
    ours = JsonTokenizer.from_directory(Path(folder))
    assert ours.pad_token_id == hf.pad_token_id and len(ours) == len(hf)
    questions = [q for q in QUESTIONS for _ in TEXTS]
    contexts = [t for _ in QUESTIONS for t in TEXTS]
    truncated_hf = [truncate_question(hf, q, WINDOW.max_question_tokens) for q in questions]
    truncated = [truncate_question(ours, q, WINDOW.max_question_tokens) for q in questions]
    assert truncated == truncated_hf
    expected = _windows(hf, truncated_hf, contexts)
    got = _windows(ours, truncated, contexts)
    assert len(expected["input_ids"]) > len(contexts), "long contexts overflow into several windows"
    for key, value in expected.items():
        assert got[key] == value, key
    assert ("token_type_ids" in expected) == (hf_class == "bert")
    plain = [len(ids) for ids in hf(TEXTS, add_special_tokens=False)["input_ids"]]
    assert [len(ids) for ids in ours(TEXTS, add_special_tokens=False)["input_ids"]] == plain
    assert ours.count_tokens(TEXTS) == plain and ours.count_tokens([]) == []
    assert ours(TEXTS[0], add_special_tokens=False)["input_ids"] == hf(TEXTS[0], add_special_tokens=False)["input_ids"]


# --- ONNX against torch ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_reader(tiny_model_dir) -> Reader:
    return load_reader(str(tiny_model_dir), device="cpu", window=WINDOW, backend="torch")


@pytest.fixture(scope="module")
def bundle(torch_reader, tmp_path_factory) -> onnx_export.OnnxBundle:
    model = torch_reader.model
    tokenizer = torch_reader.tokenizer
    return onnx_export.export_reader(model, tokenizer, tmp_path_factory.mktemp("export") / "entry")


@pytest.fixture(scope="module")
def onnx_reader(bundle) -> Reader:
    tokenizer = JsonTokenizer.from_directory(bundle.directory, bundle.pad_token_id)
    return Reader(OnnxBackend(bundle.model, bundle.max_positions), tokenizer, window=WINDOW)


def test_the_export_is_complete(bundle, tiny_model_dir):
    files = {p.name for p in bundle.directory.iterdir()}
    assert files == {"model.onnx", "model.onnx.data", "tokenizer.json", "reader.json"}
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert bundle.max_positions == config["max_position_embeddings"]
    assert bundle.pad_token_id == 0


def test_the_export_is_saved_fused_without_the_sdpa_nan_guard(bundle):
    """The cached graph is the fast one: no IsNaN/Where pass over every attention matrix, fusions done once."""
    ops = {node.op_type for node in onnx.load(str(bundle.model), load_external_data=False).graph.node}
    assert "SkipLayerNormalization" in ops and "BiasGelu" in ops
    assert "IsNaN" not in ops


def test_an_export_the_optimizer_cannot_fuse_is_kept_plain(torch_reader, tmp_path, monkeypatch):
    def refuse(source: Path, target: Path) -> None:
        target.write_bytes(b"half a graph")  # what a crash part-way leaves
        raise RuntimeError("fusion failed")

    monkeypatch.setattr(onnx_export, "_optimize", refuse)
    plain = onnx_export.export_reader(torch_reader.model, torch_reader.tokenizer, tmp_path / "entry")
    ops = {node.op_type for node in onnx.load(str(plain.model), load_external_data=False).graph.node}
    assert "SkipLayerNormalization" not in ops and "LayerNormalization" in ops
    assert {p.name for p in plain.directory.iterdir()} == {
        "model.onnx",
        "model.onnx.data",
        "tokenizer.json",
        "reader.json",
    }


def test_onnx_logits_match_torch_in_padded_batches(torch_reader, onnx_reader):
    rng = np.random.default_rng(0)
    lengths = [64, 12, 40, 63, 7, 33, 64, 18, 2]
    ids = [rng.integers(5, 40, size=n).tolist() for n in lengths]
    expected = torch_reader._forward(ids, None)
    got = onnx_reader._forward(ids, None)
    assert [len(s) for s, _ in got] == lengths
    for (s1, e1), (s2, e2) in zip(expected, got, strict=True):
        np.testing.assert_allclose(s2, s1, atol=1e-4)
        np.testing.assert_allclose(e2, e1, atol=1e-4)


def test_a_short_lived_reader_skips_prepacking_and_reads_the_same(bundle, onnx_reader):
    quick = OnnxBackend(bundle.model, bundle.max_positions, prepack=False)
    assert quick.session.get_session_options().get_session_config_entry("session.disable_prepacking") == "1"
    with pytest.raises(RuntimeError):  # never set: prepacking on, the default
        onnx_reader.backend.session.get_session_options().get_session_config_entry("session.disable_prepacking")
    ids = [[5, 9, 12, 7, 30, 2], [8, 8, 3]]
    for (s1, e1), (s2, e2) in zip(
        onnx_reader._forward(ids, None),
        Reader(quick, onnx_reader.tokenizer, window=WINDOW)._forward(ids, None),
        strict=True,
    ):
        np.testing.assert_allclose(s2, s1, atol=1e-5)
        np.testing.assert_allclose(e2, e1, atol=1e-5)


@pytest.mark.parametrize(("questions", "short"), [(["where?"], True), (["-"], False), (["q"] * 11, False)])
def test_ask_loads_for_a_quick_start_only_for_a_few_questions(questions, short, tiny_model_dir, tmp_path, monkeypatch):
    import assistant.core.model_loading as loading
    from assistant.cli import main

    seen = {}
    real = loading.load_reader

    def spy(*args, **kwargs):
        seen["short_lived"] = kwargs.get("short_lived")
        return real(*args, **kwargs)

    monkeypatch.setattr(loading, "load_reader", spy)
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("where did the cat sit?\n"))
    doc = tmp_path / "doc.txt"
    doc.write_text("The cat sat on the mat.", encoding="utf-8")
    assert main(["ask", str(doc), *questions, "--model", str(tiny_model_dir), "--json", "--backend", "onnx"]) == 0
    assert seen == {"short_lived": short}


DOCUMENT = "\n\n".join(
    [
        "The cat sat on the mat. The dog ran in the park.",
        "Where did the dog go? The dog did go to the park, and the cat sat on a mat.",
        " ".join(["the cat sat on the mat and the dog ran in the park"] * 20),
        "What is a cat? A cat is on the mat. What is in the park? A dog is in the park.",
    ]
)
ASKED = [
    "where did the cat sit?",
    "what did the dog do?",
    "what is in the park?",
    "where is the mat?",
    "what is a cat?",
    "who ran?",
]


def _answers(reader: Reader) -> list[list[tuple[str, int, int, float]]]:
    settings = EngineSettings(decode=replace(DecodeSettings(), top_k=3, min_confidence=0.0))
    engine = QAEngine(reader, settings)
    indexed = engine.index(Document.from_text(DOCUMENT))
    out = []
    for question in ASKED:
        result = engine.ask(indexed, question)
        out.append([(a.text, a.start, a.end, a.raw_score) for a in result.answers])
    return out


def test_onnx_and_torch_give_the_same_answers(torch_reader, onnx_reader):
    expected = _answers(torch_reader)
    got = _answers(onnx_reader)
    assert sum(len(a) for a in expected) >= len(ASKED), "the tiny model answers every question"
    for want, have in zip(expected, got, strict=True):
        assert [a[:3] for a in have] == [a[:3] for a in want], "same spans, same order"
        np.testing.assert_allclose([a[3] for a in have], [a[3] for a in want], atol=1e-4)


# --- load_reader: which backend, the cache, int8, fallback -------------------------------------------------


class Notices:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, kind: str, message: str) -> None:
        assert "\n" not in message
        self.lines.append((kind, message))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.lines]


def test_auto_on_cpu_exports_once_then_reads_the_cached_onnx(tiny_model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    notices = Notices()
    first = load_reader(str(tiny_model_dir), device="cpu", cache_dir=cache, notify=notices)
    assert first.backend.kind == "onnx" and isinstance(first.tokenizer, JsonTokenizer)
    assert notices.kinds() == ["progress"] and "ONNX" in notices.lines[0][1]
    entries = [p for p in (cache / "onnx").iterdir() if p.is_dir()]
    assert len(entries) == 1 and (entries[0] / "model.onnx").is_file()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    def no_hashing(path, *args):
        raise AssertionError(f"hashed {path} again")

    monkeypatch.setattr(onnx_export, "export_reader", no_export)
    monkeypatch.setattr(onnx_cache, "file_digest", no_hashing)  # every checksum is remembered by the file's stamp
    again = Notices()
    second = load_reader(str(tiny_model_dir), device="cpu", cache_dir=cache, notify=again)
    assert second.backend.kind == "onnx" and again.lines == []


def test_the_cache_key_follows_weights_config_and_tokenizer(tiny_model_dir, tmp_path):
    digests = onnx_cache.Digests(tmp_path / "cache")
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    keys = {onnx_cache.model_key(model, digests)}
    assert onnx_cache.model_key(model, digests) in keys, "stable"
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"qa_dropout": 0.2}))
    keys.add(onnx_cache.model_key(model, digests))
    tok = json.loads((model / "tokenizer.json").read_text())
    tok["normalizer"]["lowercase"] = False
    (model / "tokenizer.json").write_text(json.dumps(tok))
    keys.add(onnx_cache.model_key(model, digests))
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    time.sleep(0.01)
    weights.write_bytes(bytes(data))
    keys.add(onnx_cache.model_key(model, digests))
    assert len(keys) == 4


def test_without_a_cache_folder_or_with_backend_torch_the_reader_runs_on_torch(tiny_model_dir, tmp_path):
    assert load_reader(str(tiny_model_dir), device="cpu").backend.kind == "torch"
    reader = load_reader(str(tiny_model_dir), device="cpu", backend="torch", cache_dir=tmp_path)
    assert isinstance(reader.backend, TorchBackend) and not (tmp_path / "onnx").exists()


def test_a_hub_model_in_the_local_hub_cache_is_exported_too(tiny_model_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    hub = tmp_path / "hub"
    shutil.copytree(tiny_model_dir, hub / "models--acme--tiny-qa" / "snapshots" / "abc123")
    (hub / "models--acme--tiny-qa" / "refs").mkdir()
    (hub / "models--acme--tiny-qa" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    notices = Notices()
    reader = load_reader("acme/tiny-qa", device="cpu", cache_dir=tmp_path / "cache", notify=notices)
    assert reader.backend.kind == "onnx" and reader.name == "acme/tiny-qa"
    assert notices.kinds() == ["progress"]


def test_a_failed_export_falls_back_to_torch_in_one_line(tiny_model_dir, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("Unsupported: aten::something\nmore detail")

    monkeypatch.setattr(onnx_export, "_torch_export", broken)
    notices = Notices()
    reader = load_reader(str(tiny_model_dir), device="cpu", cache_dir=tmp_path, notify=notices)
    assert reader.backend.kind == "torch"
    assert notices.kinds() == ["progress", "fallback"]
    assert "torch" in notices.lines[1][1] and "aten::something" in notices.lines[1][1]
    assert not [p for p in (tmp_path / "onnx").iterdir() if p.is_dir()], "no half-made export is left"


def test_an_export_that_disagrees_with_torch_is_not_used(torch_reader, tmp_path, monkeypatch):
    original = onnx_export._torch_export

    def skewed(model, inputs, path):
        expected = original(model, inputs, path)
        return {k: v + 1.0 for k, v in expected.items()}

    monkeypatch.setattr(onnx_export, "_torch_export", skewed)
    with pytest.raises(onnx_export.ExportError, match="differ"):
        onnx_export.export_reader(torch_reader.model, torch_reader.tokenizer, tmp_path / "entry")
    assert not (tmp_path / "entry").exists()


def test_int8_quantizes_the_cached_export_once(tiny_model_dir, tmp_path, capfd):
    notices = Notices()
    reader = load_reader(str(tiny_model_dir), device="cpu", quantize=True, cache_dir=tmp_path, notify=notices)
    assert reader.backend.kind == "onnx-int8"
    assert notices.kinds() == ["progress", "progress"]
    assert capfd.readouterr().err == "", "the exporter's and quantizer's own warnings stay quiet"
    assert list((tmp_path / "onnx").glob("*/model.int8.onnx"))
    again = Notices()
    assert load_reader(str(tiny_model_dir), device="cpu", quantize=True, cache_dir=tmp_path, notify=again)
    assert again.lines == []
    engine = QAEngine(reader)
    result = engine.ask(engine.index(Document.from_text(DOCUMENT)), ASKED[0])
    assert result.passages


def _with_model_onnx(src: Path, bundle: onnx_export.OnnxBundle, dst: Path) -> Path:
    """A model folder that ships the export of its own weights, recorded as the trainer records it."""
    folder = shutil.copytree(src, dst)
    for name in ("model.onnx", "model.onnx.data"):
        shutil.copy(bundle.directory / name, folder / name)
    onnx_cache.record_shipped(folder, onnx_cache.Digests(None))
    return folder


def test_a_folder_that_ships_model_onnx_is_read_as_is(tiny_model_dir, bundle, tmp_path):
    folder = _with_model_onnx(tiny_model_dir, bundle, tmp_path / "model")
    notices = Notices()
    reader = load_reader(str(folder), device="cpu", notify=notices)  # no cache folder needed
    assert reader.backend.kind == "onnx" and notices.lines == []
    assert isinstance(reader.backend, OnnxBackend) and reader.backend.path == folder / "model.onnx"
    (folder / "model.safetensors").unlink()
    assert load_reader(str(folder), device="cpu").backend.kind == "onnx", "ONNX alone is enough"


def test_int8_of_a_shipped_model_onnx_is_made_in_the_cache(tiny_model_dir, bundle, tmp_path):
    folder = _with_model_onnx(tiny_model_dir, bundle, tmp_path / "model")
    notices = Notices()
    reader = load_reader(str(folder), device="cpu", quantize=True, cache_dir=tmp_path / "cache", notify=notices)
    assert reader.backend.kind == "onnx-int8" and notices.kinds() == ["progress"]
    assert not (folder / "model.int8.onnx").exists(), "the model folder is left as it was"
    fallback = Notices()
    assert load_reader(str(folder), device="cpu", quantize=True, notify=fallback).backend.kind == "onnx"
    assert fallback.kinds() == ["fallback"], "no cache to quantize into: fp32, in one line"


@pytest.mark.parametrize("how", ["newer", "older (cp -p)", "unrecorded"])
def test_a_model_onnx_of_other_weights_is_never_read(how, tiny_model_dir, bundle, tmp_path):
    from tests.helpers import save_tiny_model

    folder = _with_model_onnx(tiny_model_dir, bundle, tmp_path / "model")
    other = save_tiny_model(tmp_path / "other", WORDS, seed=7)
    weights = folder / "model.safetensors"
    if how == "unrecorded":
        (folder / "model.onnx.json").unlink()
    else:
        before = weights.stat().st_mtime_ns
        shutil.copyfile(other / "model.safetensors", weights)
        stamp = before - 10**10 if how.startswith("older") else before + 10**10
        os.utime(weights, ns=(stamp, stamp))
    assert onnx_cache.shipped_bundle(folder, onnx_cache.Digests(tmp_path / "cache")) is None
    assert load_reader(str(folder), device="cpu").backend.kind == "torch"
    reader = load_reader(str(folder), device="cpu", cache_dir=tmp_path / "cache", notify=Notices())
    assert reader.backend.kind == "onnx" and reader.backend.path != folder / "model.onnx", "exported afresh"


def test_the_onnx_backend_is_cpu_only(tiny_model_dir):
    from assistant.core.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError):
        load_reader(str(tiny_model_dir), device="cuda", backend="onnx")


# --- a cold `assistant ask` imports neither torch nor transformers ------------------------------------------

_ASK_AND_LIST_MODULES = """
import json, sys
from assistant.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _ask_in_fresh_process(model: Path, doc: Path, cache: Path, *flags: str) -> tuple[list[dict], dict, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", ASSISTANT_CACHE_DIR=str(cache))
    argv = ["ask", str(doc), "where did the cat sit?", "what did the dog do?", "--model", str(model), "--json"]
    result = subprocess.run(
        [sys.executable, "-c", _ASK_AND_LIST_MODULES, *argv, *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    *other, last = result.stderr.strip().splitlines()
    return [json.loads(line) for line in result.stdout.splitlines()], json.loads(last), "\n".join(other)


@pytest.mark.slow
def test_ask_with_a_shipped_model_onnx_never_imports_torch(tiny_model_dir, bundle, tmp_path):
    folder = _with_model_onnx(tiny_model_dir, bundle, tmp_path / "model")
    doc = tmp_path / "notes.txt"
    doc.write_text(DOCUMENT, encoding="utf-8")
    records, status, other = _ask_in_fresh_process(folder, doc, tmp_path / "cache")
    assert status == {"code": 0, "heavy": []}, status
    assert len(records) == 2 and all(r["answers"] or r["no_answer_reason"] for r in records)
    assert other == ""


@pytest.mark.slow
def test_ask_after_the_first_export_never_imports_torch(tiny_model_dir, tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text(DOCUMENT, encoding="utf-8")
    cache = tmp_path / "cache"
    first, status, _ = _ask_in_fresh_process(tiny_model_dir, doc, cache)
    assert "torch" in status["heavy"], "the first use exports with torch"
    second, status, other = _ask_in_fresh_process(tiny_model_dir, doc, cache)
    assert status == {"code": 0, "heavy": []}, status
    assert other == "", "no notice once the export exists"
    assert [r["answers"] for r in second] == [r["answers"] for r in first]
    on_torch, status, _ = _ask_in_fresh_process(tiny_model_dir, doc, cache, "--backend", "torch")
    assert "torch" in status["heavy"]
    for a, b in zip(on_torch, second, strict=True):
        assert [(x["start"], x["end"]) for x in a["answers"]] == [(x["start"], x["end"]) for x in b["answers"]]


def test_the_cache_folder_of_the_app(monkeypatch, tmp_path):
    from assistant.paths import user_cache_dir

    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(tmp_path / "c"))
    assert user_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ASSISTANT_CACHE_DIR")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "d"))
    assert user_cache_dir() == tmp_path / "d" / "cache"
