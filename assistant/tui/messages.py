"""Every message the app's workers and screens exchange, in one place.

Workers only post messages; the App changes its state on them; screens post requests up to the App
(``ActivateRun``) and the App posts requests to the chat screen (``PickDocument``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the engine imports torch: only its types are needed here
    from assistant.core.engine import AskResult, IndexedDocument, QAEngine
    from assistant.core.folders import Skipped
    from assistant.runs.events import RunEvent
    from assistant.settings import ModelChoice, Settings
    from assistant.store import Context
    from assistant.tui.widgets.conversation import AnswerCard


# --- the reader model: load worker -> App --------------------------------------------------------------------------
@dataclass
class ModelLoaded(Message):
    choice: ModelChoice
    """What was asked for, and which rule chose it."""
    name: str
    engine: QAEngine
    exact_match: float | None = None
    f1: float | None = None


@dataclass
class ModelFailed(Message):
    error: str


@dataclass
class ModelNotice(Message):
    """Load worker -> App: what a long load is doing ("progress"), or that it fell back to torch ("fallback")."""

    kind: str
    text: str


@dataclass
class ActivateRun(Message):
    """A screen asks the App to make a trained run the active reader and load it."""

    name: str


# --- documents: index worker -> chat screen ------------------------------------------------------------------------
@dataclass
class IndexProgress(Message):
    stage: str
    fraction: float


@dataclass
class DocumentIndexed(Message):
    context: Context
    indexed: IndexedDocument
    skipped: list[Skipped] = field(default_factory=list)
    """A folder's files that were not read, with why."""


@dataclass
class DocumentFailed(Message):
    context: Context
    error: str
    password: str = ""
    """A protected PDF opened with no password ("missing") or a wrong one ("wrong"): the chat asks for it."""


# --- answers: answer worker -> chat screen -------------------------------------------------------------------------
@dataclass
class AnswerReady(Message):
    """Ask worker -> chat screen: the answer to ``card``'s question about ``context`` (the document, folder or paths
    open when it was asked)."""

    card: AnswerCard
    result: AskResult
    context: Context | None


# --- requests: App -> chat screen ----------------------------------------------------------------------------------
class PickDocument(Message):
    """Show the file dialog and open the document picked."""


class ClearConversation(Message):
    """Forget the open document's conversation."""


class ExportConversation(Message):
    """Save the open document's conversation as Markdown."""


# --- training: training worker -> Train screen ---------------------------------------------------------------------
class TrainingOutcome(str, Enum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    """The trainer recorded a failure in run.json (with its reason)."""
    CRASHED = "crashed"
    """The trainer exited without recording an end: killed, crashed, or it never started."""

    def __str__(self) -> str:
        return self.value


@dataclass
class TrainingEvent(Message):
    event: RunEvent
    """One whole line of the run's events.jsonl."""


@dataclass
class TrainingFinished(Message):
    run_path: Path | None
    outcome: TrainingOutcome
    returncode: int
    message: str = ""
    log_tail: list[str] = field(default_factory=list)
    """The last lines of the trainer's stdout and stderr, shown when it crashed."""


@dataclass
class TrainingActivity(Message):
    """Train screen -> chat screen: a run is going (with a one-line summary of its progress) or has ended."""

    running: bool
    summary: str = ""


# --- the document pane: find and go-to-line bars -> document pane; answer cards -> chat screen ---------------------
@dataclass
class FindMatch(Message):
    """The find bar's current match, as document offsets (start, end); None when the query matches nothing."""

    span: tuple[int, int] | None


@dataclass
class LineWanted(Message):
    """The go-to-line bar asks for a line (1-based, as the line numbers show it)."""

    line: int


class BarClosed(Message):
    """A find or go-to-line bar was closed (escape): reading goes on in the document."""


@dataclass
class JumpToAnswer(Message):
    """A click on an answer card: show its candidate ``index`` (0: the answer) in the document."""

    card: AnswerCard
    index: int


# --- the first-run and settings screens ----------------------------------------------------------------------------
@dataclass
class SwitchReader(Message):
    """A screen asks the App to load another reader: a folder path or a hub id (None: the usual resolution)."""

    ref: str | None


@dataclass
class HubChecked(Message):
    """Hub check worker -> first-run screen: whether the default reader could be downloaded now."""

    reachable: bool


@dataclass
class SettingsSaved(Message):
    """Settings screen -> App: the form's values, checked; the App saves and applies them (a new default model is
    saved once it has loaded)."""

    settings: Settings


# --- the Train form and the metrics panel: their workers -> their screen -------------------------------------------
if TYPE_CHECKING:  # the config imports torch: only the types are needed here
    from assistant.runs.config import TrainConfig
    from assistant.tui.train_check import DataCheck


@dataclass
class TrainingChecked(Message):
    """The Train form's base model and data were checked; ``start``: Start was pressed, so the run may begin."""

    config: TrainConfig
    check: DataCheck
    start: bool


@dataclass
class OfflineBase(Message):
    """A base model that can train offline (None: none can), and the words that say which, or why there is none."""

    base: str | None
    note: str


@dataclass
class ResumeRun(Message):
    """A screen asks the App to continue a run that did not complete, on the Train screen."""

    path: Path


@dataclass
class RunDeleted(Message):
    """The metrics panel deleted a run's folder, or could not (``error``, one sentence)."""

    name: str
    error: str | None = None
