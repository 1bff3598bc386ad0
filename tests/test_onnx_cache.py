"""ONNX exports prove themselves before they are read: an entry carries the key of what made it and the checksum of
every file; a swapped, tampered or linked entry is made again, never read; parallel first runs wait for one export;
a folder that is not the program's cache is never written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.core import onnx_cache
from assistant.core.model_loading import load_reader
from tests.helpers import save_tiny_model


class Notices:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, kind: str, message: str) -> None:
        self.lines.append((kind, message))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.lines]


def _entries(cache: Path) -> list[Path]:
    return [p for p in (cache / "onnx").iterdir() if p.is_dir() and not p.name.startswith(".")]


@pytest.fixture
def cached(tiny_model_dir, tmp_path) -> tuple[Path, Path]:
    """A cache holding the export of the tiny model; returns (cache folder, its entry)."""
    cache = tmp_path / "cache"
    load_reader(str(tiny_model_dir), device="cpu", cache_dir=cache, notify=Notices())
    (entry,) = _entries(cache)
    return cache, entry


def _reads_a_fresh_export(model: Path, cache: Path) -> None:
    notices = Notices()
    reader = load_reader(str(model), device="cpu", cache_dir=cache, notify=notices)
    assert reader.backend.kind == "onnx" and notices.kinds() == ["progress"], notices.lines


def test_an_entry_swapped_for_another_models_is_exported_again(cached, tiny_model_dir, tmp_path):
    from tests.conftest import WORDS

    cache, entry = cached
    other = save_tiny_model(tmp_path / "other", WORDS, seed=5)
    load_reader(str(other), device="cpu", cache_dir=cache, notify=Notices())
    (theirs,) = [p for p in _entries(cache) if p != entry]
    shutil.rmtree(entry)
    shutil.copytree(theirs, entry)  # the other model's export under this model's key
    _reads_a_fresh_export(tiny_model_dir, cache)


@pytest.mark.parametrize("damage", ["graph bytes", "weights bytes", "tokenizer", "manifest", "graph linked"])
def test_a_tampered_entry_is_exported_again(damage, cached, tiny_model_dir, tmp_path):
    cache, entry = cached
    if damage in ("graph bytes", "weights bytes"):
        target = entry / ("model.onnx" if damage == "graph bytes" else "model.onnx.data")
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, other bytes
        target.write_bytes(bytes(data))
    elif damage == "tokenizer":
        (entry / "tokenizer.json").write_text("{}", encoding="utf-8")
    elif damage == "manifest":
        meta = json.loads((entry / "reader.json").read_text())
        meta["key"] = "0" * 32
        (entry / "reader.json").write_text(json.dumps(meta), encoding="utf-8")
    else:
        outside = tmp_path / "elsewhere.onnx"
        shutil.move(entry / "model.onnx", outside)
        (entry / "model.onnx").symlink_to(outside)
    _reads_a_fresh_export(tiny_model_dir, cache)


def test_a_cache_folder_the_program_did_not_make_is_never_written(tiny_model_dir, tmp_path):
    cache = tmp_path / "mine"
    (cache / "onnx" / "holiday-photos").mkdir(parents=True)
    before = sorted(p.name for p in (cache / "onnx").iterdir())
    notices = Notices()
    reader = load_reader(str(tiny_model_dir), device="cpu", cache_dir=cache, notify=notices)
    assert reader.backend.kind == "torch" and notices.kinds() == ["fallback"]
    assert sorted(p.name for p in (cache / "onnx").iterdir()) == before


def test_what_a_killed_export_left_is_swept_by_the_next(cached, tiny_model_dir):
    cache, entry = cached
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = cache / "onnx" / f".{entry.name}.tmp-{int(dead.stdout)}-0a0b0c0d"
    left.mkdir()
    (left / "single.onnx").write_bytes(b"half an export")
    shutil.rmtree(entry)
    _reads_a_fresh_export(tiny_model_dir, cache)
    assert not left.exists()


PARALLEL = """
import sys
from pathlib import Path
from assistant.core.model_loading import load_reader
lines = []
reader = load_reader(sys.argv[1], device="cpu", quantize=True, cache_dir=Path(sys.argv[2]),
                     notify=lambda kind, message: lines.append(message.split()[0]))
print(reader.backend.kind, ",".join(lines))
"""


@pytest.mark.slow
def test_parallel_first_int8_runs_share_one_export_and_one_quantization(tiny_model_dir, tmp_path):
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PARALLEL, str(tiny_model_dir), str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    kinds = [out.split() for out, _ in outputs]
    assert all(k[0] == "onnx-int8" for k in kinds), kinds
    said = [word for k in kinds for word in ",".join(k[1:]).split(",") if word]
    assert (said.count("Exporting"), said.count("Quantizing")) == (1, 1), said  # the others waited for them
    assert len(_entries(cache)) == 1
    entry = _entries(cache)[0]
    meta = json.loads((entry / "reader.json").read_text())
    assert "model.int8.onnx" in meta["files"] and not list((cache / "onnx").glob(".*.tmp-*"))
    assert onnx_cache.verified_entry(entry, entry.name, onnx_cache.Digests(None)) is not None


def test_an_export_lock_that_cannot_be_had_falls_back_to_torch(tiny_model_dir, tmp_path, monkeypatch):
    from assistant.core import ownership

    cache = tmp_path / "cache"
    digests_root = onnx_cache.cache_root(cache)
    assert digests_root is not None
    key = onnx_cache.model_key(tiny_model_dir, onnx_cache.Digests(digests_root))
    (digests_root / f".{key}.lock").mkdir()  # a folder where the lock file goes
    notices = Notices()
    reader = load_reader(str(tiny_model_dir), device="cpu", cache_dir=cache, notify=notices)
    assert reader.backend.kind == "torch" and notices.kinds() == ["fallback"], notices.lines
    (digests_root / f".{key}.lock").rmdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(120)",
            str(digests_root / f".{key}.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        real = ownership.waiting_for
        monkeypatch.setattr(ownership, "waiting_for", lambda path, on_wait=None: real(path, on_wait, timeout=1.0))
        stuck = Notices()
        reader = load_reader(str(tiny_model_dir), device="cpu", cache_dir=cache, notify=stuck)
        assert reader.backend.kind == "torch" and stuck.kinds() == ["progress", "fallback"], stuck.lines
        assert "held" in stuck.lines[-1][1]
    finally:
        holder.kill()
        holder.wait()
