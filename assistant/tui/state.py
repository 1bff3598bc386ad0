"""The app's typed state: what the screens watch instead of reading loose attributes of the App."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from assistant.core import files

if TYPE_CHECKING:  # the engine imports torch: only its type is needed here
    from assistant.core.engine import QAEngine


class ReaderStatus(str, Enum):
    NONE = "none"
    """No reader loaded and none being loaded."""
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ReaderState:
    """The reader model as the app knows it; replaced whole, never changed in place."""

    status: ReaderStatus = ReaderStatus.NONE
    name: str = ""
    exact_match: float | None = None
    f1: float | None = None
    error: str | None = None
    engine: QAEngine | None = field(default=None, compare=False, repr=False)
    """Set exactly when the status is READY."""
    switching_to: str | None = None
    """Another reader being loaded to replace this one; this one answers until it has (and if it fails)."""
    ref: str = ""
    """What was loaded, as given to the loader (a folder path or a hub id): ``name`` is only its short form."""
    source: str = ""
    """Where the reader came from, in the status line's words: active run, settings, --model, ..."""
    note: str = ""
    """What the load is doing now, when it takes a while (a first ONNX export)."""

    def is_loaded(self, ref: str) -> bool:
        """Whether ``ref`` (a folder path or a hub id) is the reader answering now."""
        if self.engine is None or not self.ref:
            return False
        return files.same_place(ref, self.ref)

    @classmethod
    def loading(cls) -> ReaderState:
        return cls(ReaderStatus.LOADING)

    @classmethod
    def failed(cls, error: str) -> ReaderState:
        return cls(ReaderStatus.FAILED, error=error)

    @property
    def label(self) -> str:
        """The status line's words for the reader."""
        return self.describe(with_source=True)

    def describe(self, with_source: bool) -> str:
        """The reader in the status line's words; without where it came from ("active run") where room is short,
        so that its scores still show."""
        doing = f": {self.note} (escape stops)" if self.note else "…"
        if self.status is ReaderStatus.LOADING:
            return f"loading model{doing}"
        if self.status is ReaderStatus.READY:
            switching = f" · loading {self.switching_to}{doing}" if self.switching_to else ""
            source = f" ({self.source})" if self.source and with_source else ""
            if self.f1 is None:
                return f"model {self.name}{source}{switching}"
            em = "—" if self.exact_match is None else f"{self.exact_match:.1f}"
            return f"model {self.name}{source} · EM {em} / F1 {self.f1:.1f}{switching}"
        return "no model (f3 picks one)"

    @property
    def busy(self) -> bool:
        """A reader is being loaded (the first, or one to replace this one)."""
        return self.status is ReaderStatus.LOADING or self.switching_to is not None
