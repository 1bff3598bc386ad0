"""Conversations per document in SQLite, with a schema version and ordered migrations."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
]


@dataclass
class Turn:
    id: int
    question: str
    result: dict[str, Any]
    created_at: float
    feedback: str | None = None


def document_key(path: Path) -> str:
    return str(path.expanduser().resolve())


class ConversationStore:
    """Thread-safe: the UI's workers may write while the UI reads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply each pending migration in its own transaction; a crash leaves the last good version."""
        with self._lock:
            current = self.schema_version
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                self._db.execute("BEGIN")
                try:
                    for statement in filter(str.strip, script.split(";")):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def _document_id(self, path: Path) -> int:
        key = document_key(path)
        row = self._db.execute("SELECT id FROM documents WHERE path = ?", (key,)).fetchone()
        if row:
            return int(row[0])
        cur = self._db.execute("INSERT INTO documents(path, opened_at) VALUES (?, ?)", (key, time.time()))
        return int(cur.lastrowid)

    def add_turn(self, path: Path, question: str, result: dict[str, Any]) -> int:
        with self._lock:
            doc = self._document_id(path)
            cur = self._db.execute(
                "INSERT INTO turns(document_id, question, result, created_at) VALUES (?, ?, ?, ?)",
                (doc, question, json.dumps(result, ensure_ascii=False), time.time()),
            )
            return int(cur.lastrowid)

    def set_feedback(self, turn_id: int, feedback: str) -> None:
        with self._lock:
            self._db.execute("UPDATE turns SET feedback = ? WHERE id = ?", (feedback, turn_id))

    def turns(self, path: Path) -> list[Turn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT t.id, t.question, t.result, t.created_at, t.feedback FROM turns t "
                "JOIN documents d ON d.id = t.document_id WHERE d.path = ? ORDER BY t.id",
                (document_key(path),),
            ).fetchall()
        return [Turn(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def clear(self, path: Path) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM turns WHERE document_id IN (SELECT id FROM documents WHERE path = ?)",
                (document_key(path),),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def conversation_markdown(path: Path, turns: list[Turn]) -> str:
    lines = [f"# Conversation about {path.name}", "", f"Document: `{path}`", ""]
    for turn in turns:
        lines.append(f"## {turn.question}")
        lines.append("")
        answers = turn.result.get("answers", [])
        if not answers:
            lines.append("_Not found in this document._")
        for i, a in enumerate(answers):
            marker = "**Answer**" if i == 0 else f"Candidate {i + 1}"
            lines.append(f"- {marker}: {a['text']} ({a['score']:.0%}, line {a['line']})")
            lines.append(f"  > {a['context'].strip()}")
        if turn.feedback:
            lines.append(f"- Feedback: {turn.feedback}")
        lines.append("")
    return "\n".join(lines)
