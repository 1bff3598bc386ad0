"""Where ONNX readers are kept, and how each proves itself before it is read.

Two kinds of folder hold an ONNX reader. An export in the cache (``<cache>/onnx/<key>/``) is named by a hash of
everything it was made from (config, tokenizer files, weights by content, the export format); its ``reader.json``
records that key and the size and SHA-256 of every file. A model folder may ship its own ``model.onnx`` (a run
does): its ``model.onnx.json`` records the SHA-256 of the safetensors weights it was exported from and of its
own files, so a ``model.onnx`` left over from other weights (even ones copied in with an older mtime) is never
read. A folder with ONNX files and no safetensors at all is read as it is: there is nothing for it to be stale
against.

Checksums are remembered in ``<cache>/onnx/weights-digests.json`` by each file's identity and change time
(device, inode, size, mtime and ctime: ctime cannot be set back by ``cp -p`` or ``touch``), so a start does not
read 260 MB to hash them; any change to a file changes its stamp and it is hashed again. An entry that fails its
check is removed and made again. Exports and quantizations of one key are made under that key's lock, so that
parallel first runs wait for one another instead of racing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core import files, ownership
from assistant.core.errors import UserError

EXPORT_FORMAT = "reader-onnx-3"
"""Part of every cache key and manifest: change it when the export itself changes, so old exports are not reused."""
MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.onnx.data"
"""The export's weights, outside the graph: onnxruntime maps them instead of parsing 260 MB of protobuf."""
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "reader.json"
"""A cache entry's manifest: its key, reader settings and file checksums."""
SHIPPED_FILE = "model.onnx.json"
"""A model folder's record of the ONNX files it ships and the weights they were exported from."""
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
_RECORDED = (MODEL_FILE, WEIGHTS_FILE, INT8_FILE, TOKENIZER_FILE)
CACHE_KIND = "onnx-cache"
DIGESTS = "weights-digests.json"
ONNX_FILE = files.FileKind("ONNX file", 64 * files.GiB)
WEIGHTS = files.FileKind("weights file", 64 * files.GiB)
_OURS = re.compile(
    r"(shipped-)?[0-9a-f]{32}|weights-digests\.json|\.[0-9a-f]{32}\.\w+|\.weights-digests\.json\.\w+"
    r"|\.(shipped-)?[0-9a-f]{32}(\.lock|\.tmp-\d+-[0-9a-f]+)"
)
"""What an ONNX cache folder made before folders were marked holds: entries, the digest memo, the program's
temporaries and locks."""


class ExportError(Exception):
    """An export that could not be made, does not reproduce the torch model's logits, or cannot be made here now
    (its lock cannot be had)."""


@dataclass(frozen=True)
class OnnxBundle:
    """A folder with an ONNX reader: the model, its tokenizer and what the reader needs to know."""

    directory: Path
    model: Path
    max_positions: int | None
    pad_token_id: int | None
    int8_verified: bool = False
    """Whether ``model.int8.onnx`` beside it is recorded as made from this ``model.onnx`` and matches its checksum."""

    @property
    def tokenizer(self) -> Path:
        return self.directory / TOKENIZER_FILE

    @property
    def int8(self) -> Path:
        return self.directory / INT8_FILE


def whole_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- checksums, remembered ---------------------------------------------------------------------------------------


def file_digest(path: Path, kind: files.FileKind = WEIGHTS) -> str:
    """SHA-256 of a regular file, read in blocks through the one opener."""
    digest = hashlib.sha256()
    fd = files.open_regular(path, kind)
    try:
        while block := os.read(fd, 1 << 22):
            digest.update(block)
    finally:
        os.close(fd)
    return digest.hexdigest()


def _stamp(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class Digests:
    """SHA-256 of files, remembered by their stamp in the cache folder (``root``); with no root, always hashed."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        loaded = files.read_json_object_or_none(root / DIGESTS, files.RECORD, nofollow=True) if root else None
        self._memo: dict[str, Any] = loaded or {}
        self._changed = False

    def of(self, path: Path) -> str:
        key = str(path.resolve())
        stamp = _stamp(path)
        entry = self._memo.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str):
            return str(entry["sha256"])
        digest = file_digest(path)
        self.remember(path, digest, stamp)
        return digest

    def remember(self, path: Path, digest: str, stamp: list[int] | None = None) -> None:
        """Record a checksum just computed (an export's files, hashed as they were written)."""
        self._memo[str(path.resolve())] = {"stamp": stamp or _stamp(path), "sha256": digest}
        self._changed = True

    def save(self) -> None:
        """Keep what was hashed for next time; a read-only cache only costs hashing again."""
        if self.root is None or not self._changed:
            return
        memo = {path: entry for path, entry in self._memo.items() if os.path.exists(path)}  # forget deleted files
        with contextlib.suppress(*files.WRITE_ERRORS, ValueError):
            files.write_json(self.root / DIGESTS, memo)
        self._changed = False


def model_key(model_dir: Path, digests: Digests) -> str:
    """A hash of everything an export depends on: config, tokenizer files, weights and the export format."""
    digest = hashlib.sha256(EXPORT_FORMAT.encode())
    for name in ("config.json", *TOKENIZER_FILES):
        path = model_dir / name
        if path.is_file():
            digest.update(f"\0{name}\0".encode())
            digest.update(files.read_bytes(path, files.TOKENIZER))
    onnx = [model_dir / name for name in (MODEL_FILE, WEIGHTS_FILE) if (model_dir / name).is_file()]
    for weights in [*sorted(model_dir.glob("*.safetensors")), *onnx]:
        digest.update(f"\0{weights.name}\0{digests.of(weights)}".encode())
    digests.save()
    return digest.hexdigest()[:32]


# --- manifests ---------------------------------------------------------------------------------------------------


def file_records(directory: Path, names: list[str], digests: Digests) -> dict[str, dict[str, Any]]:
    """``{name: {"size", "sha256"}}`` of files in ``directory`` (those that exist)."""
    records = {}
    for name in names:
        path = directory / name
        if path.is_file():
            records[name] = {"size": path.stat().st_size, "sha256": digests.of(path)}
    return records


def _files_match(directory: Path, recorded: Any, digests: Digests, names: tuple[str, ...]) -> bool:
    """Each of ``names`` that the manifest records (``names[0]`` must be) is a regular file, no link, of its recorded
    size and checksum, and no other file is recorded."""
    if not isinstance(recorded, dict) or names[0] not in recorded or not set(recorded) <= set(_RECORDED):
        return False
    for name in names:
        record = recorded.get(name)
        if record is None:
            continue
        path = directory / name
        try:
            info = os.lstat(path)
            if not isinstance(record, dict) or not stat.S_ISREG(info.st_mode) or info.st_size != record.get("size"):
                return False
            if digests.of(path) != record.get("sha256"):
                return False
        except (OSError, UserError):
            return False
    return True


def _int8_matches(directory: Path, recorded: Any, digests: Digests) -> bool:
    return isinstance(recorded, dict) and _files_match(directory, recorded, digests, (INT8_FILE,))


def _bundle(directory: Path, meta: Mapping[str, Any], int8_verified: bool) -> OnnxBundle:
    return OnnxBundle(
        directory,
        directory / MODEL_FILE,
        whole_or_none(meta.get("max_position_embeddings")),
        whole_or_none(meta.get("pad_token_id")),
        int8_verified,
    )


def entry_meta(entry: Path) -> dict[str, Any]:
    """A cache entry's ``reader.json`` (its reader settings), {} when unreadable."""
    return _meta(entry, META_FILE) or {}


def _meta(directory: Path, name: str) -> dict[str, Any] | None:
    return files.read_json_object_or_none(directory / name, files.RECORD, nofollow=True)


def verified_entry(entry: Path, key: str, digests: Digests, required: str = MODEL_FILE) -> OnnxBundle | None:
    """The cache entry for ``key`` if it proves itself (its manifest names ``key``, every file matches, ``required``
    among them); else None, and a bad entry is removed so that it is made again."""
    if not os.path.lexists(entry):
        return None
    meta = _meta(entry, META_FILE) if stat.S_ISDIR(os.lstat(entry).st_mode) else None
    ok = (
        meta is not None
        and meta.get("format") == EXPORT_FORMAT
        and meta.get("key") == key
        and (required != MODEL_FILE or (entry / TOKENIZER_FILE).is_file())
        and _files_match(entry, meta.get("files"), digests, (required, WEIGHTS_FILE, TOKENIZER_FILE))
    )
    digests.save()
    if not ok or meta is None:
        discard(entry)
        return None
    int8 = _int8_matches(entry, meta.get("files"), digests)
    digests.save()
    return _bundle(entry, meta, int8)


def shipped_bundle(model_dir: Path, digests: Digests) -> OnnxBundle | None:
    """The ``model.onnx`` a model folder ships, if it may be read: recorded as exported from the folder's current
    safetensors (``model.onnx.json``), or the folder has no safetensors at all (an ONNX-only model)."""
    model, tokenizer = model_dir / MODEL_FILE, model_dir / TOKENIZER_FILE
    if not model.is_file() or not tokenizer.is_file():
        return None
    config = _meta(model_dir, "config.json") or {}
    weights = sorted(model_dir.glob("*.safetensors"))
    if not weights:
        return _bundle(model_dir, config, False)
    record = _meta(model_dir, SHIPPED_FILE)
    if record is None or record.get("format") != EXPORT_FORMAT:
        return None
    try:
        current = {w.name: digests.of(w) for w in weights}
    except (OSError, UserError):
        return None
    recorded = record.get("files")
    ok = record.get("weights") == current and _files_match(model_dir, recorded, digests, (MODEL_FILE, WEIGHTS_FILE))
    int8 = ok and _int8_matches(model_dir, recorded, digests)
    digests.save()
    return _bundle(model_dir, config, int8) if ok else None


def record_shipped(model_dir: Path, digests: Digests) -> None:
    """Write ``model.onnx.json``: the folder's ONNX files and the safetensors they were exported from."""
    weights = {w.name: digests.of(w) for w in sorted(model_dir.glob("*.safetensors"))}
    record = {
        "format": EXPORT_FORMAT,
        "weights": weights,
        "files": file_records(model_dir, [MODEL_FILE, WEIGHTS_FILE, INT8_FILE], digests),
    }
    files.write_json(model_dir / SHIPPED_FILE, record)
    digests.save()


def record_entry(entry: Path, key: str, meta: Mapping[str, Any], digests: Digests) -> None:
    """Write (or rewrite, once ``model.int8.onnx`` is added) a cache entry's ``reader.json``: its key, reader
    settings and file checksums."""
    names = [MODEL_FILE, WEIGHTS_FILE, INT8_FILE, TOKENIZER_FILE]
    kept = {k: v for k, v in meta.items() if k not in ("format", "key", "files")}
    record = {**kept, "format": EXPORT_FORMAT, "key": key, "files": file_records(entry, names, digests)}
    files.write_json(entry / META_FILE, record)
    digests.save()


# --- the cache folder ----------------------------------------------------------------------------------------------


def cache_root(cache_dir: Path | None) -> Path | None:
    """``<cache>/onnx``, if it is (or can be made) the program's own; None: no cache this time."""
    if cache_dir is None:
        return None
    root = cache_dir / "onnx"
    return root if ownership.claim(root, CACHE_KIND, adopt=_OURS) else None


def discard(entry: Path) -> None:
    """Remove a cache entry (or a temporary) of the program's own cache folder."""
    with contextlib.suppress(OSError):
        if entry.is_symlink() or not entry.is_dir():
            entry.unlink(missing_ok=True)
        else:
            shutil.rmtree(entry)


@contextlib.contextmanager
def entry_lock(root: Path, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Make or change the entry of ``key`` alone: another process doing it first is waited for (up to two minutes;
    a lock that cannot be had is an ExportError, so the reader falls back to torch)."""
    files.sweep_temps(root)  # what exports a kill cut short left
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(ownership.waiting_for(root / f".{key}.lock", on_wait))
        except UserError as exc:
            raise ExportError(str(exc).rstrip(".")) from None
        yield


def check_graph_files(model: Path) -> None:
    """Refuse, before onnxruntime opens them, ONNX files that are not regular files (a FIFO would block it)."""
    files.check_regular(model, ONNX_FILE)
    data = model.parent / WEIGHTS_FILE
    if os.path.lexists(data):
        files.check_regular(data, ONNX_FILE)
