"""Conversations per document in SQLite, with a schema version and ordered migrations."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.core import files
from assistant.core.sanitize import visible

if TYPE_CHECKING:  # the engine imports torch: only its type is needed here (turns() imports it to read)
    from assistant.core.engine import AskResult

MIGRATIONS: list[str] = [
    # 1: documents and their conversation turns
    """
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        opened_at REAL NOT NULL
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        question TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX turns_by_document ON turns(document_id, id);
    """,
    # 2: the user's verdict on an answer
    """
    ALTER TABLE turns ADD COLUMN feedback TEXT;
    """,
    # 3: the reader model that answered
    """
    ALTER TABLE turns ADD COLUMN model TEXT;
    """,
    # 4: the span the user saved as the right answer, when it is not the reader's
    """
    ALTER TABLE turns ADD COLUMN correction TEXT;
    """,
    # 5: the readers the user chose (f3 offers them again)
    """
    CREATE TABLE recent_readers (
        ref TEXT PRIMARY KEY,
        used_at REAL NOT NULL
    );
    """,
]


# What a history read or write can raise: a damaged, locked or closed database, a full or read-only disk, or a
# stored answer that is not JSON (or not an answer). The UI catches these so that history trouble never costs an answer.
STORE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError, ValueError, files.FileProblem)

BUSY_TIMEOUT_S = 5.0  # how long a writer waits for another process's write lock before giving up


@dataclass
class Turn:
    id: int
    question: str
    result: AskResult
    created_at: float
    feedback: str | None = None
    model: str | None = None
    """The reader that answered, as the app named it; None for turns kept before it was recorded."""
    correction: str | None = None
    """The text the user saved as the right answer instead of the reader's (ctrl+b, then ctrl+s)."""


def document_key(path: Path) -> str:
    return str(files.user_path(path).resolve())


CONTEXT_NAMES_SHOWN = 3
"""Paths a context's name spells out; past it, how many more."""


@dataclass(frozen=True)
class Context:
    """What a conversation is about: one document or folder, or several paths read as one context. It is the chat's
    identity: the conversation kept and the place in the recent list. One path keeps the key conversations were
    always kept under (its resolved path); several are keyed by the JSON list of theirs, which no path can be (a
    resolved path starts with ``/``): every conversation kept before goes on as it was."""

    paths: tuple[Path, ...]

    def __post_init__(self) -> None:
        if not self.paths:
            raise ValueError("a context names at least one path")

    @classmethod
    def of(cls, *paths: str | os.PathLike[str]) -> Context:
        """The paths named, each once, in order (the order they were named in does not make another context: the
        files are read in path order whatever it was)."""
        return cls(tuple(sorted({Path(os.path.abspath(files.user_path(p))) for p in paths}, key=str)))

    @property
    def first(self) -> Path:
        return self.paths[0]

    @property
    def also(self) -> tuple[Path, ...]:
        return self.paths[1:]

    @property
    def name(self) -> str:
        """The document's or folder's name, or the first few paths' names joined with "+" (by their path inside the
        folder that holds them all where two share a name)."""
        names = [path.name or str(path) for path in self.paths]
        if len(set(names)) < len(names):  # two files of one name: named by their paths inside the folder of all
            common = os.path.commonpath([str(path) for path in self.paths])
            names = [
                os.path.relpath(path, common) if str(path) != common else name
                for path, name in zip(self.paths, names, strict=True)
            ]
        more = len(names) - CONTEXT_NAMES_SHOWN
        return " + ".join(names[:CONTEXT_NAMES_SHOWN]) + (f" + {more} more" if more > 0 else "")

    @property
    def key(self) -> str:
        keys = [document_key(path) for path in self.paths]
        return keys[0] if len(keys) == 1 else json.dumps(keys, ensure_ascii=False)

    @classmethod
    def from_key(cls, key: object) -> Context | None:
        """The context a stored key names; None for a row written by something else."""
        if not isinstance(key, str) or not key:
            return None
        if not key.startswith("["):
            return cls((Path(key),)) if Path(key).is_absolute() else None
        try:
            paths = json.loads(key)
        except (ValueError, RecursionError):  # not JSON, or nested past what the parser can follow
            return None
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and os.path.isabs(p) for p in paths):
            return None
        return cls(tuple(Path(p) for p in paths))


def _statements(script: str) -> list[str]:
    return [s for s in script.split(";") if s.strip()]


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Only a damaged file is moved aside; a locked or unreachable one is left alone."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    return not isinstance(exc, sqlite3.OperationalError)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    return code & 0xFF in (5, 6) if code is not None else "locked" in str(exc)  # SQLITE_BUSY, SQLITE_LOCKED


def _move_aside(path: Path) -> Path:
    """Keep a damaged database (and its WAL and shared-memory files) for inspection instead of deleting it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.replace(Path(f"{target}{suffix}"))
    return target


About = Context | Path
"""A conversation's context, or the one document or folder it is about."""


def _context(about: About) -> Context:
    return about if isinstance(about, Context) else Context.of(about)


class ConversationStore:
    """Thread-safe, and safe with several processes (two app windows) writing the same file.

    Every write is one BEGIN IMMEDIATE transaction: it takes the write lock up front, so a second writer waits
    (busy timeout) instead of reading a stale state and failing half-way.
    """

    def __init__(self, path: Path, timeout: float = BUSY_TIMEOUT_S) -> None:
        files.write_target(path)  # a FIFO or a device there is refused (FileProblem), never opened or set aside
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._use_wal(timeout)
            self._db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except BaseException:
            self._db.close()
            raise

    def _use_wal(self, timeout: float) -> None:
        """Readers never block the writer in WAL mode. Switching a fresh file to WAL needs an exclusive lock that
        SQLite does not wait for (no busy handler), so retry while another process is opening the same file."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @classmethod
    def open_or_recover(cls, path: Path) -> tuple[ConversationStore, str | None]:
        """Open the store; if the file is damaged, move it aside and start a fresh one, with a notice saying so.

        Raises what a fresh store raises (sqlite3.Error, OSError) when even that cannot be created.
        """
        try:
            store = cls(path)
            store.check()
            return store, None
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
        moved = _move_aside(path)
        notice = f"The conversation history was damaged, so it was moved to {moved} and a new, empty one was started."
        return cls(path), notice

    def check(self) -> None:
        """Read every page once: a truncated file can open fine and only fail later, in the middle of a chat."""
        try:
            with self._lock:
                problems = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"database disk image is malformed: {'; '.join(problems[:3])}")
        except BaseException:
            self.close()
            raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed whole or rolled back whole, never left open."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def migrate(self) -> None:
        """Apply each pending migration in its own transaction; a crash leaves the last good version.

        The version is re-read after taking the write lock, so when two processes open a fresh database at once
        the second sees the first's work and does not apply a migration twice.
        """
        if self.schema_version >= len(MIGRATIONS):
            return
        for version, script in enumerate(MIGRATIONS, start=1):
            with self._write() as db:
                if self.schema_version >= version:
                    continue
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")

    def add_turn(self, about: About, question: str, result: AskResult, model: str | None = None) -> int:
        """Create-or-get the document and add the turn in one transaction, so concurrent first turns both land.

        The answer is stored as its JSON (``AskResult.to_json``), with the name of the reader that gave it."""
        key, payload, now = _context(about).key, json.dumps(result.to_json(), ensure_ascii=False), time.time()
        with self._write() as db:
            db.execute("INSERT INTO documents(path, opened_at) VALUES (?, ?) ON CONFLICT(path) DO NOTHING", (key, now))
            doc = db.execute("SELECT id FROM documents WHERE path = ?", (key,)).fetchone()[0]
            cur = db.execute(
                "INSERT INTO turns(document_id, question, result, created_at, model) VALUES (?, ?, ?, ?, ?)",
                (doc, question, payload, now, model),
            )
            if cur.lastrowid is None:  # an INSERT always sets it
                raise sqlite3.DatabaseError("the new turn has no id")
            return cur.lastrowid

    def set_feedback(self, turn_id: int, feedback: str, correction: str | None = None) -> None:
        """The user's verdict on a turn's answer, and the span they saved instead of it (None: none)."""
        with self._write() as db:
            db.execute("UPDATE turns SET feedback = ?, correction = ? WHERE id = ?", (feedback, correction, turn_id))

    def turns(self, about: About) -> list[Turn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT t.id, t.question, t.result, t.created_at, t.feedback, t.model, t.correction FROM turns t "
                "JOIN documents d ON d.id = t.document_id WHERE d.path = ? ORDER BY t.id",
                (_context(about).key,),
            ).fetchall()
        return [Turn(r[0], r[1], _result(r[0], r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def recent_documents(self, limit: int = 10) -> list[Context]:
        """The documents, folders and contexts opened or asked about, the latest use first (the open dialog offers
        them again; the app reopens the first at start)."""
        with self._lock:
            rows = self._db.execute(  # as bytes: a row that is not UTF-8 is skipped, not the end of the list
                "SELECT CAST(d.path AS BLOB) FROM documents d LEFT JOIN turns t ON t.document_id = d.id "
                "GROUP BY d.id ORDER BY MAX(COALESCE(MAX(t.created_at), 0), d.opened_at) DESC, MAX(t.id) DESC, "
                "d.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [context for r in rows if (context := Context.from_key(_text_or_none(r[0]))) is not None]

    def opened(self, about: About) -> None:
        """A document (or folder, or context) was opened: it goes first in :meth:`recent_documents`."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO documents(path, opened_at) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET opened_at = ?",
                (_context(about).key, now, now),
            )

    def remember_reader(self, ref: str) -> None:
        """A reader the user chose (a folder path or a hub id), the latest first in :meth:`recent_readers`."""
        with self._write() as db:
            db.execute(
                "INSERT INTO recent_readers(ref, used_at) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET used_at = ?",
                (ref, time.time(), time.time()),
            )

    def recent_readers(self, limit: int = 5) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT ref FROM recent_readers ORDER BY used_at DESC LIMIT ?", (limit,)).fetchall()
        return [r[0] for r in rows if isinstance(r[0], str)]

    def clear(self, about: About) -> None:
        with self._write() as db:
            db.execute(
                "DELETE FROM turns WHERE document_id IN (SELECT id FROM documents WHERE path = ?)",
                (_context(about).key,),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _text_or_none(raw: object) -> str | None:
    if not isinstance(raw, bytes):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _result(turn_id: int, payload: str) -> AskResult:
    """A stored answer; one that is not JSON or not an answer's JSON is a ValueError (one of STORE_ERRORS)."""
    from assistant.core.engine import AskResult

    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValueError(f"turn {turn_id} does not hold an answer (a JSON {type(data).__name__})")
    try:
        return AskResult.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ValueError(f"turn {turn_id} does not hold an answer ({type(exc).__name__}: {exc})") from None


def conversation_markdown(about: About, turns: list[Turn]) -> str:
    """The conversation as Markdown; document text and names in it keep no control or bidi-control character (a
    file that is later shown with `cat` must not drive the terminal either)."""
    context = _context(about)
    lines = [f"# Conversation about {_one_line(context.name)}", ""]
    if context.also:
        lines += ["Documents:", "", *(f"- {_code(str(path))}" for path in context.paths), ""]
    else:
        lines += [f"Document: {_code(str(context.first))}", ""]
    for turn in turns:
        lines.append(f"## {_one_line(turn.question)}")
        lines.append("")
        if not turn.result.answers:
            lines.append("_Not found in this document._")
        for i, a in enumerate(turn.result.answers):
            marker = "**Answer**" if i == 0 else f"Candidate {i + 1}"
            lines.append(f"- {marker}: {_one_line(a.text)} ({a.score:.0%}, {_one_line(a.source)})")  # across lines
            lines += [f"  > {line}".rstrip() for line in a.context.strip().splitlines()]  # every line quoted
        if turn.model:
            lines.append(f"- Reader: {_one_line(turn.model)}")
        if turn.feedback:
            lines.append(f"- Feedback: {_one_line(turn.feedback)}")
        if turn.correction:
            lines.append(f"- **Corrected answer**: {_one_line(turn.correction)}")
        lines.append("")
    return visible("\n".join(lines))


def _code(text: str) -> str:
    """``text`` as a Markdown code span, whatever backticks it holds (a fence one longer than its longest run)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {_one_line(text)} {fence}"


def _one_line(text: str) -> str:
    """A span that runs across lines, as one list item's line (its line breaks would end the item)."""
    return " ".join(text.split())
