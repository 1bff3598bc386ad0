"""The Textual app: a thin shell that owns the reader model, the store and the settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding

from assistant.settings import Settings
from assistant.store import ConversationStore, conversation_markdown
from assistant.tui.commands import AssistantCommands
from assistant.tui.gc_tuning import freeze_heap
from assistant.tui.messages import ModelFailed, ModelLoaded
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.dialogs import HelpScreen, ModelPicker
from assistant.tui.screens.metrics import MetricsScreen
from assistant.tui.screens.train import TrainScreen


class AssistantApp(App):
    TITLE = "Document assistant"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {AssistantCommands}
    BINDINGS = [
        Binding("ctrl+o", "open_document", "Open", id="app-open"),
        Binding("ctrl+t", "train", "Train", id="app-train"),
        Binding("f2", "metrics", "Metrics", id="app-metrics"),
        Binding("f3", "switch_model", "Model", id="app-switch-model"),
        Binding("f1", "help", "Help", id="app-help"),
    ]

    def __init__(
        self,
        document_path: str | Path | None = None,
        model: str | None = None,
        device: str = "auto",
        int8: bool = False,
        trainer_command: list[str] | None = None,
        extra_train_args: list[str] | None = None,
        store_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.document_path = Path(document_path) if document_path else None
        self.cli_model = model
        self.device = device
        self.int8 = int8
        self.trainer_command = trainer_command
        self.extra_train_args = extra_train_args or []
        self.store_path = store_path
        self.settings = Settings()
        self.settings_loaded = False
        self.store: ConversationStore | None = None
        self.engine: Any = None
        self.model_status = "loading model…"
        self.model_error: str | None = None
        self.started = time.perf_counter()

    @property
    def chat(self) -> ChatScreen:
        return self.get_screen("chat")  # type: ignore[return-value]

    def on_mount(self) -> None:
        from assistant.paths import user_data_dir
        from assistant.store import STORE_ERRORS

        self.settings = Settings.load()
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.settings_loaded = True
        store_path = self.store_path or user_data_dir() / "conversations.sqlite3"
        try:  # a damaged file is moved aside; if even a fresh one cannot be made, run without history
            self.store, notice = ConversationStore.open_or_recover(store_path)
        except STORE_ERRORS as exc:
            self.store, notice = None, f"Conversations will not be kept this session: cannot open {store_path} ({exc})."
        if notice:
            self.notify(notice, title="History", severity="warning", timeout=12)
        self.install_screen(ChatScreen(self.document_path), "chat")
        self.install_screen(TrainScreen(), "train")
        self.push_screen("chat")
        self.call_after_refresh(self.load_model, self.cli_model)

    def watch_theme(self, theme: str) -> None:
        """Remember a theme picked from the palette."""
        if self.settings_loaded and theme != self.settings.theme:
            self.settings.theme = theme
            self.settings.save()

    # --- the reader model -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="model")
    def load_model(self, ref: str | None) -> None:
        from assistant.core.errors import UserError
        from assistant.core.model_loading import load_reader
        from assistant.settings import resolve_model

        self.model_status = "loading model…"
        choice = resolve_model(ref, self.settings)
        t0 = time.perf_counter()
        try:
            reader = load_reader(choice.ref, device=self.device, quantize=self.int8 or self.settings.int8)
        except UserError as exc:
            self.post_message(ModelFailed(str(exc)))
            return
        from assistant.core.engine import QAEngine
        from assistant.runs.registry import load_run

        engine = QAEngine(reader, load_model_ms=(time.perf_counter() - t0) * 1000)
        em = f1 = None
        if Path(choice.ref).is_dir():
            info = load_run(Path(choice.ref))
            em, f1 = info.exact_match, info.f1
        self.post_message(
            ModelLoaded(Path(choice.ref).name if Path(choice.ref).is_dir() else choice.ref, engine, em, f1)
        )

    @on(ModelLoaded)
    def _model_loaded(self, message: ModelLoaded) -> None:
        self.engine = message.engine
        self.model_error = None
        scores = f" · EM {message.exact_match:.1f} / F1 {message.f1:.1f}" if message.f1 is not None else ""
        self.model_status = f"model {message.name}{scores}"
        self.chat.model_ready()
        freeze_heap()

    @on(ModelFailed)
    def _model_failed(self, message: ModelFailed) -> None:
        self.model_error = message.error
        self.model_status = "no model (f3 picks one)"
        self.chat.update_status()
        self.notify(message.error, title="No reader model", severity="error", timeout=12)

    def activate_run(self, name: str) -> None:
        from assistant.core.errors import UserError
        from assistant.runs.registry import activate

        try:
            info = activate(name)
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"{name} is now the active reader.")
        self.load_model(str(info.path))

    # --- actions ----------------------------------------------------------------------------------
    def action_open_document(self) -> None:
        from textual_fspicker import FileOpen

        start = self.chat.document_path.parent if self.chat.document_path else Path.cwd()

        def opened(path: Path | None) -> None:
            if path is not None:
                self.chat.open_document(Path(path))

        self.push_screen(FileOpen(start), opened)

    def action_focus_question(self) -> None:
        self.switch_to_chat()
        self.chat.action_focus_question()

    def switch_to_chat(self) -> None:
        while self.screen is not self.chat and len(self.screen_stack) > 1:
            self.pop_screen()

    def action_train(self) -> None:
        if self.screen.id != "train" and not isinstance(self.screen, TrainScreen):
            self.push_screen("train")

    def action_metrics(self) -> None:
        if not isinstance(self.screen, MetricsScreen):
            self.push_screen(MetricsScreen())

    def action_switch_model(self) -> None:
        def picked(ref: str | None) -> None:
            if ref:
                self.engine = None
                self.model_status = "loading model…"
                self.chat.update_status()
                self.load_model(ref)

        self.push_screen(ModelPicker(), picked)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_clear_conversation(self) -> None:
        self.chat.clear_conversation()
        self.notify("Conversation cleared.")

    def action_export_conversation(self) -> None:
        from assistant import atomic
        from assistant.paths import user_data_dir
        from assistant.store import STORE_ERRORS

        path = self.chat.document_path
        if path is None:
            self.notify("Open a document first.", severity="warning")
            return
        if self.store is None:
            self.notify("Conversations are not kept this session, so there is nothing to export.", severity="warning")
            return
        out = user_data_dir() / "exports" / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.md"
        try:
            atomic.write_text(out, conversation_markdown(path, self.store.turns(path)))
        except STORE_ERRORS as exc:
            self.notify(f"Could not export the conversation: {type(exc).__name__}: {exc}", severity="warning")
            return
        self.notify(f"Saved {out}", title="Conversation exported")

    def on_unmount(self) -> None:
        if self.store:
            self.store.close()
