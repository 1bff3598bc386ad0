"""Every message the app's workers and screens exchange, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message


@dataclass
class ModelLoaded(Message):
    name: str
    engine: Any  # assistant.engine.QAEngine, typed loosely so this module never imports torch
    exact_match: float | None = None
    f1: float | None = None


@dataclass
class ModelFailed(Message):
    error: str


@dataclass
class IndexProgress(Message):
    stage: str
    fraction: float


@dataclass
class DocumentIndexed(Message):
    path: Path
    indexed: Any  # assistant.engine.IndexedDocument


@dataclass
class DocumentFailed(Message):
    path: Path
    error: str


@dataclass
class AnswerReady(Message):
    question: str
    result: dict[str, Any]
    turn_id: int | None


@dataclass
class AnswerFailed(Message):
    question: str
    error: str


@dataclass
class TrainingEvent(Message):
    event: dict[str, Any]


@dataclass
class TrainingLog(Message):
    line: str


@dataclass
class TrainingFinished(Message):
    run_path: Path | None
    status: str
    """completed, cancelled, failed or crashed."""
    returncode: int
    message: str = ""
