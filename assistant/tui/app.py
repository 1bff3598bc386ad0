"""The Textual app: a thin shell that owns the reader model, the store and the settings.

Its state is typed and reactive (``reader_state``); screens watch it, and the App talks to screens only
through messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, get_current_worker

from assistant.core import files
from assistant.core.sanitize import one_line, visible
from assistant.settings import ModelChoice, Settings, resolve_model
from assistant.store import Context, ConversationStore
from assistant.tui import workers
from assistant.tui.actions import bindings
from assistant.tui.commands import AssistantCommands
from assistant.tui.gc_tuning import freeze_heap
from assistant.tui.messages import (
    ActivateRun,
    ClearConversation,
    ExportConversation,
    ModelFailed,
    ModelLoaded,
    ModelNotice,
    PickDocument,
    ResumeRun,
    SettingsSaved,
    SwitchReader,
)
from assistant.tui.screens.annotations import AnnotationsScreen
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.dialogs import ConfirmScreen, HelpScreen, ModelPicker
from assistant.tui.screens.first_run import FirstRunScreen
from assistant.tui.screens.metrics import MetricsScreen
from assistant.tui.screens.settings import SettingsScreen
from assistant.tui.screens.train import TrainScreen
from assistant.tui.state import ReaderState, ReaderStatus

if TYPE_CHECKING:  # the engine imports torch: only its type is needed here
    from assistant.core.engine import QAEngine


@dataclass(frozen=True)
class Keep:
    """What the user chose in the app, remembered once the reader it names has loaded (never before)."""

    ref: str
    run: str | None = None
    """A run to make active."""
    form: tuple[Settings, Settings] | None = None
    """A settings form saved with this default model, and the settings before it (what a failure goes back to)."""


def _short_ref(ref: str | None) -> str:
    """A reader as the status line names it: a folder by its name, a hub id as it is."""
    if not ref:
        return "the default reader"
    path = Path(ref)
    return path.name if path.is_absolute() or ref.startswith((".", "~")) else ref


class AssistantApp(App[None]):
    TITLE = "Document assistant"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {AssistantCommands}
    BINDINGS = bindings("app")

    reader_state: reactive[ReaderState] = reactive(ReaderState, always_update=True)
    """The reader model: loading, ready (with its engine), failed (with why) or none."""

    def __init__(
        self,
        document_path: str | Path | None = None,
        also: Sequence[str | Path] = (),
        model: str | None = None,
        device: str = "auto",
        int8: bool = False,
        trainer_command: list[str] | None = None,
        train_overrides: Mapping[str, Any] | None = None,
        store_path: Path | None = None,
    ) -> None:
        """``document_path``: a document or folder to open at start, with the paths in ``also`` as one context;
        ``device`` "auto" defers to settings.toml's; ``trainer_command`` replaces ``python -m trainer``;
        ``train_overrides`` are TrainConfig fields set over the Train screen's form (both for tests and benchmarks)."""
        super().__init__()
        self.document_path = Path(document_path) if document_path else None
        self.also = tuple(Path(p) for p in also)
        self.cli_model = model
        self.device = device
        self.int8 = int8
        self.trainer_command = trainer_command
        self.train_overrides = dict(train_overrides or {})
        self.store_path = store_path
        self.settings = Settings()
        self.settings_loaded = False
        self.store: ConversationStore | None = None
        self.started = time.perf_counter()
        self.loading: ModelChoice | None = None
        """The reader asked for last, and which rule chose it."""
        self.keep: Keep | None = None
        """What the user chose, to remember once the reader being loaded has loaded."""
        self._last_notice: tuple[tuple[str, str, str], float] = (("", "", ""), 0.0)
        """The last notice shown, and until when it shows."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, from any screen or worker, is text: paths, run names and errors are shown as they
        are (never parsed as markup, control characters visible, never obeyed). The same notice again while it is
        still shown is not stacked under itself (a key pressed twice)."""
        notice, now = (visible(message), one_line(title), severity), time.monotonic()
        if notice == self._last_notice[0] and now < self._last_notice[1]:
            return
        self._last_notice = (notice, now + (self.NOTIFICATION_TIMEOUT if timeout is None else timeout))
        super().notify(notice[0], title=notice[1], severity=severity, timeout=timeout, markup=False)

    @property
    def engine(self) -> QAEngine | None:
        return self.reader_state.engine

    @property
    def chat(self) -> ChatScreen:
        screen = self.get_screen("chat")
        assert isinstance(screen, ChatScreen)
        return screen

    def on_mount(self) -> None:
        self.settings, problems = Settings.load_checked()
        for problem in problems:  # a value given way to its default is said, once, before any save drops it
            self.notify(problem, title="Settings", severity="warning", timeout=15)
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.settings_loaded = True
        self._open_store()
        self.reader_state = ReaderState.loading()
        initial = Context.of(self.document_path, *self.also) if self.document_path else None
        self.install_screen(ChatScreen(initial, self.store, self.settings), "chat")
        self.install_screen(TrainScreen(self.trainer_command, self.train_overrides), "train")
        self.push_screen("chat")
        self.call_after_refresh(self._start_loading, None)

    def _open_store(self) -> None:
        """A damaged file is moved aside; if even a fresh one cannot be made, run without history."""
        from assistant.paths import user_data_dir
        from assistant.store import STORE_ERRORS

        store_path = self.store_path or user_data_dir() / "conversations.sqlite3"
        try:
            self.store, notice = ConversationStore.open_or_recover(store_path)
        except STORE_ERRORS as exc:
            self.store, notice = None, f"Conversations will not be kept this session: cannot open {store_path} ({exc})."
        if notice:
            self.notify(notice, title="History", severity="warning", timeout=12)

    def watch_theme(self, theme: str) -> None:
        """Remember a theme picked from the palette."""
        if self.settings_loaded and theme != self.settings.theme:
            self.settings.theme = theme
            try:
                self.settings.save()
            except files.WRITE_ERRORS as exc:
                self.notify(f"The theme is not kept for next time: {files.write_problem(exc)}.", severity="warning")

    # --- the reader model -------------------------------------------------------------------------
    def switch_reader(self, ref: str | None, keep: Keep | None = None) -> None:
        """Load another reader (None: the usual resolution). With ``keep``, what the user chose is what the next
        start loads, once the reader has loaded; one that fails to load changes nothing saved. A working reader
        stays (and answers) until the new one has loaded, and goes on if it fails; without one, questions asked
        meanwhile wait for the new one."""
        current = self.reader_state
        if current.engine is not None:
            self.reader_state = replace(current, switching_to=_short_ref(ref), note="")
        else:
            self.reader_state = ReaderState.loading()
        choice = None if ref is None else ModelChoice(ref, "active run" if keep and keep.run else "chosen")
        self.keep = keep
        self._start_loading(choice)

    def _start_loading(self, choice: ModelChoice | None) -> None:
        """Resolve the reader here, on the UI thread, so the App knows which rule chose the reader it waits for;
        an ACTIVE that names no usable run is said, never replaced by another reader."""
        from assistant.core.errors import UserError

        try:
            self.loading = choice or resolve_model(self.cli_model, self.settings)
        except UserError as exc:
            self._reader_failed(str(exc))
            return
        self.load_model(self.loading)

    @property
    def reader_device(self) -> str:
        """The --device flag when one was given, else settings.toml's."""
        return self.device if self.device not in ("", "auto") else self.settings.device

    @work(thread=True, exclusive=True, exit_on_error=False, group=workers.MODEL)
    def load_model(self, choice: ModelChoice) -> None:
        from assistant.core.errors import UserError
        from assistant.core.model_loading import load_reader
        from assistant.paths import user_cache_dir

        t0 = time.perf_counter()
        try:
            reader = load_reader(
                choice.ref,
                device=self.reader_device,
                quantize=self.int8 or self.settings.int8,
                cache_dir=user_cache_dir(),  # the ONNX path: no torch import once the export is cached
                notify=lambda kind, text: self._post_unless_cancelled(ModelNotice(kind, text)),
            )
        except UserError as exc:
            self._post_unless_cancelled(ModelFailed(str(exc)))
            return
        from assistant.core.engine import QAEngine
        from assistant.runs.reader_defaults import reader_defaults
        from assistant.runs.registry import load_run

        engine = QAEngine(reader, reader_defaults(choice.ref), load_model_ms=(time.perf_counter() - t0) * 1000)
        path = Path(choice.ref)
        if path.is_dir():
            info = load_run(path)
            self._post_unless_cancelled(ModelLoaded(choice, path.name, engine, info.exact_match, info.f1))
        else:
            self._post_unless_cancelled(ModelLoaded(choice, choice.ref, engine))

    def _post_unless_cancelled(self, message: ModelLoaded | ModelFailed | ModelNotice) -> None:
        """A load replaced by a newer one (another pick), or stopped, must not overwrite it."""
        if not get_current_worker().is_cancelled:
            self.post_message(message)

    @on(ModelNotice)
    def _model_notice(self, message: ModelNotice) -> None:
        if message.kind == "progress" and self.reader_state.busy:
            self.reader_state = replace(self.reader_state, note=message.text.rstrip(".").rstrip("…"))
        elif message.kind != "progress":
            self.notify(message.text, title="Reader", severity="warning", timeout=10)

    def stop_loading(self) -> None:
        """Stop waiting for the reader being loaded: the one answering goes on (or none); nothing is saved. An ONNX
        export under way finishes in its thread and is cached for the next time."""
        state = self.reader_state
        if not state.busy:
            return
        self.workers.cancel_group(self, workers.MODEL)
        if self.keep is not None and self.keep.form is not None:  # a settings form waiting on it: none of it holds
            self._apply(self.keep.form[1])
        self.keep = None
        wanted = state.switching_to or "the reader"
        if state.engine is not None:
            self.reader_state = replace(state, switching_to=None, note="")
            self.notify(f"Stopped loading {wanted}; still answering with {state.name}.", timeout=6)
        else:
            self.reader_state = ReaderState()
            self.notify(f"Stopped loading {wanted}; f3 picks a reader.", timeout=6)

    @on(ModelLoaded)
    def _model_loaded(self, message: ModelLoaded) -> None:
        source = self._keep_choice(message.choice)
        self.reader_state = ReaderState(
            ReaderStatus.READY,
            message.name,
            message.exact_match,
            message.f1,
            engine=message.engine,
            ref=message.engine.reader.name,  # the loader names a reader by the ref it was given
            source=source,
        )
        freeze_heap()

    def _keep_choice(self, choice: ModelChoice) -> str:
        """What the user chose in the app, now that it has loaded, is what the next start loads; the source the
        status line shows ("not kept" when it could not be saved, with a warning saying why)."""
        from assistant.core.errors import UserError
        from assistant.settings import keep_choice

        keep, self.keep = self.keep, None
        if keep is None or keep.ref != choice.ref:
            return choice.source
        self._remember_reader(keep.ref)
        try:
            return keep_choice(self.settings, keep.ref, keep.run)
        except UserError as exc:
            problem = str(exc)
        except files.WRITE_ERRORS as exc:
            problem = f"cannot write {Settings.path()}: {files.write_problem(exc)}"
        self.notify(f"{problem.rstrip('.')}; the next start loads what it did before.", severity="warning")
        return "not kept"

    @on(ModelFailed)
    def _model_failed(self, message: ModelFailed) -> None:
        self._reader_failed(message.error)

    def _remember_reader(self, ref: str) -> None:
        """A folder the user chose, offered again by f3 (hub ids are offered there anyway)."""
        from assistant.store import STORE_ERRORS

        folder = files.local_dir(ref)
        if self.store is not None and folder is not None:
            try:
                self.store.remember_reader(str(folder))
            except STORE_ERRORS as exc:
                self.notify(f"The reader is not kept in the recent list: {exc}", severity="warning")

    def _reader_failed(self, error: str) -> None:
        current = self.reader_state
        keep, self.keep = self.keep, None  # nothing is saved for a reader that does not load
        if keep is not None and keep.form is not None:
            self._form_refused(keep.form, error)
            return
        if current.engine is not None:  # a switch failed: the reader that worked goes on answering
            wanted = current.switching_to or "the new reader"
            self.reader_state = replace(current, switching_to=None, note="")
            self.notify(
                f"{error}\nStill answering with {current.name}; nothing was saved.",
                title=f"Could not switch to {wanted}",
                severity="error",
                timeout=12,
            )
            return
        self.reader_state = ReaderState.failed(error)
        if self._offer_first_run():
            self.push_screen(FirstRunScreen())  # it says what is missing, and the ways to get a reader
        else:
            self.notify(error, title="No reader model", severity="error", timeout=12)

    def _offer_first_run(self) -> bool:
        """No reader, and none named on the command line: show the ways to get one, unless the user is busy
        elsewhere (another screen) or is already looking at them."""
        if self.loading is None or self.loading.source == "--model" or self.screen is not self.chat:
            return False
        return not any(isinstance(screen, FirstRunScreen) for screen in self.screen_stack)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An unexpected exception in one of the App's workers: a notification and a failed state, never an exit."""
        error = workers.failure(event)
        if error is None:
            return
        if event.worker.group == workers.MODEL:
            self._reader_failed(f"Could not load the reader: {error}")
        else:
            self.notify(error, title="Something went wrong", severity="error", timeout=12)

    @on(SwitchReader)
    def _switch_requested(self, message: SwitchReader) -> None:
        self.switch_reader(message.ref, Keep(message.ref) if message.ref else None)

    @on(SettingsSaved)
    def _settings_saved(self, message: SettingsSaved) -> None:
        """Save and apply the form's settings: the theme now, the reading settings from the next question (the chat
        reads this same object), a reload when int8 or the device changed. With a new default model, the form is
        applied and the model loaded first, and all of it saved only once the model has loaded."""
        chosen, before = message.settings, replace(self.settings)
        if chosen.model and chosen.model != before.model:
            self._apply(replace(chosen, model=before.model))
            self.notify(f"Loading {chosen.model}; the settings are saved once it has loaded.", timeout=6)
            self.switch_reader(chosen.model, Keep(chosen.model, form=(chosen, before)))
            return
        try:
            chosen.save()
        except files.WRITE_ERRORS as exc:
            self.notify(f"Could not write {Settings.path()}: {files.write_problem(exc)}.", severity="error")
            return
        self._apply(chosen)
        self.notify("Settings saved.", timeout=4)
        if chosen.model != before.model:  # cleared: the usual resolution
            self.switch_reader(None)
        elif (chosen.int8, chosen.device) != (before.int8, before.device) and self.loading is not None:
            self.switch_reader(self.reader_state.ref or self.loading.ref)

    def _apply(self, values: Settings) -> None:
        """Make ``values`` the App's settings (the same object the screens read) and show the theme."""
        for f in fields(Settings):
            setattr(self.settings, f.name, getattr(values, f.name))
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme

    def _form_refused(self, form: tuple[Settings, Settings], error: str) -> None:
        """The default model of a settings form did not load: the settings before it come back, nothing is saved,
        and the form is shown again with what was typed, to fix."""
        chosen, before = form
        self._apply(before)
        current = self.reader_state
        self.reader_state = (
            replace(current, switching_to=None, note="") if current.engine else ReaderState.failed(error)
        )
        self.notify(f"{error}\nThe settings were not saved.", title="Default model not loaded", severity="error")
        if not isinstance(self.screen, SettingsScreen):
            self.push_screen(SettingsScreen(chosen))

    @on(ResumeRun)
    def _resume_run(self, message: ResumeRun) -> None:
        self.action_train()
        train = self.get_screen("train")
        assert isinstance(train, TrainScreen)
        train.resume(message.path)

    async def action_quit(self) -> None:
        """Quit; a run that is training is stopped, so ask first (and say it can be resumed)."""
        train = self.get_screen("train") if self.is_screen_installed("train") else None
        if not (isinstance(train, TrainScreen) and train.training):
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        question = "A run is training. Quit and stop it?\n\nIt can be resumed later: f2, select it, R."
        self.push_screen(ConfirmScreen(question, default=False), answered)

    @on(ActivateRun)
    def _activate_run(self, message: ActivateRun) -> None:
        """Load the run, then make it active (and what the next start loads): a run that cannot load changes
        nothing."""
        from assistant.core.errors import UserError
        from assistant.runs.registry import activatable

        try:
            info = activatable(message.name)
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        self.switch_reader(str(info.path), Keep(str(info.path), run=message.name))

    # --- actions (the list is assistant.tui.actions) ----------------------------------------------
    def action_open_document(self) -> None:
        self.chat.post_message(PickDocument())

    def _go_to(self, kind: type[Screen[Any]], make: Callable[[], Screen[Any] | str]) -> None:
        """Show the screen of ``kind``: one already open is gone back to (the screens above it close), so that
        going between Train and Metrics never stacks them, nor puts the one Train screen in the stack twice."""
        if not any(isinstance(screen, kind) for screen in self.screen_stack):
            self.push_screen(make())
            return
        while not isinstance(self.screen, kind):
            self.pop_screen()

    def action_train(self) -> None:
        self._go_to(TrainScreen, lambda: "train")

    def action_metrics(self) -> None:
        self._go_to(MetricsScreen, MetricsScreen)

    def action_annotations(self) -> None:
        self._go_to(AnnotationsScreen, AnnotationsScreen)

    def action_switch_model(self) -> None:
        def picked(ref: str | None) -> None:
            if ref:
                self.switch_reader(ref, Keep(ref))

        self.push_screen(ModelPicker(self.reader_state, self._recent_readers()), picked)

    def _recent_readers(self) -> list[str]:
        from assistant.store import STORE_ERRORS

        try:
            return self.store.recent_readers() if self.store else []
        except STORE_ERRORS:  # history trouble costs the list, never the picker
            return []

    def action_settings(self) -> None:
        self._go_to(SettingsScreen, lambda: SettingsScreen(self.settings))

    def action_stop_loading(self) -> None:
        self.chat.stop_opening()
        self.stop_loading()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_clear_conversation(self) -> None:
        self.chat.post_message(ClearConversation())

    def action_export_conversation(self) -> None:
        self.chat.post_message(ExportConversation())

    def on_unmount(self) -> None:
        if self.store:
            self.store.close()
