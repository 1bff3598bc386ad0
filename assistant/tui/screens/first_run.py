"""The first-run screen: no reader could be loaded, so it says what is missing and offers, inside the app, each way
to get one: download the default reader, open a local checkpoint folder, or train one."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, ProgressBar, Static
from textual.worker import Worker

from assistant.core.defaults import DEFAULT_READER
from assistant.rendering import safe_text
from assistant.tui import workers
from assistant.tui.messages import HubChecked, SwitchReader
from assistant.tui.screens.dialogs import checkpoint_dialog
from assistant.tui.state import ReaderState, ReaderStatus

HUB_CHECK = "hub-check"
"""The worker group of the hub check."""

CHECKING = "Checking whether the Hugging Face hub can be reached…"
REACHABLE = f"Downloads {DEFAULT_READER} (about 260 MB) once; after that it works offline."
UNREACHABLE = "The Hugging Face hub cannot be reached from here, so nothing can be downloaded."
FOLDER_HINT = "A folder with config.json, safetensors weights and the tokenizer files: a trained run or a copy."
TRAIN_HINT = "Fine-tune a reader on a local SQuAD-style file or on your saved annotations."


def what_is_missing(error: str) -> str:
    """The loader's sentence without its command-line advice: this screen's buttons are the ways forward here."""
    head, sep, advice = error.partition("; ")
    if sep and ("`assistant" in advice or "--model" in advice):
        return f"{head.rstrip('.')}."
    return error


class FirstRunScreen(Screen[None]):
    """Shown when there is no reader; it goes once one has loaded, whichever way it came."""

    CSS_PATH = "first_run.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Chat", id="first-run-back")]

    def __init__(self) -> None:
        super().__init__()
        self.hub_reachable: bool | None = None
        """None until the check has answered."""
        self.asked = ""
        """What this screen asked the App to load, in words for the status line."""
        self.state = ReaderState()
        """The App's reader, as last seen."""
        self._leaving = False
        """This screen has been dismissed (its work is done)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="first-run", can_focus=False):
            yield Static("No reader model yet", id="first-run-title")
            yield Static(id="first-run-error")
            yield Static("A reader model answers your questions. Get one here:", id="first-run-intro")
            with Horizontal(classes="way"):
                yield Button("Download the default reader", variant="primary", id="download", disabled=True)
                yield Static(CHECKING, id="download-hint", classes="hint")
            with Horizontal(classes="way"):
                yield Button("Open a local checkpoint folder", id="open-folder")
                yield Static(FOLDER_HINT, classes="hint")
            with Horizontal(classes="way"):
                yield Button("Train a reader", id="train")
                yield Static(TRAIN_HINT, classes="hint")
            yield ProgressBar(id="first-run-progress", show_eta=False, show_percentage=False)
            yield Static(id="first-run-status")
            yield Static("escape: the chat without a reader · f3: pick a reader later", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "reader_state", self._reader_changed)
        self.query_one("#open-folder", Button).focus()  # enter does something at once; the download, once possible
        self.check_hub()

    # --- the hub --------------------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group=HUB_CHECK)
    def check_hub(self) -> None:
        """In a worker: offline (HF_HUB_OFFLINE) answers at once, a name lookup may take a while."""
        from assistant.core.model_loading import hub_reachable

        self.post_message(HubChecked(hub_reachable()))

    @on(HubChecked)
    def _hub_checked(self, message: HubChecked) -> None:
        self.hub_reachable = message.reachable
        self.query_one("#download-hint", Static).update(REACHABLE if message.reachable else UNREACHABLE)
        self._reader_changed(self.state)
        download = self.query_one("#download", Button)
        if message.reachable and not download.disabled and self.focused is self.query_one("#open-folder"):
            download.focus()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A check that raised means no download: the hint says why instead of a traceback."""
        error = workers.failure(event)
        if error is not None and event.worker.group == HUB_CHECK:
            self.hub_reachable = False
            self.query_one("#download-hint", Static).update(safe_text(f"Could not check the hub: {error}"))

    # --- the reader -----------------------------------------------------------------------------------------------
    def _reader_changed(self, state: ReaderState) -> None:
        self.state = state
        loading = state.status is ReaderStatus.LOADING or state.switching_to is not None
        self.query_one("#download", Button).disabled = loading or not self.hub_reachable
        self.query_one("#first-run-progress").display = loading
        status = self.query_one("#first-run-status", Static)
        status.update(safe_text(f"{self.asked or 'Loading a reader'}…" if loading else ""))
        error = self.query_one("#first-run-error", Static)
        if loading:  # the last try's error is not about this one
            error.update("")
        elif state.error:
            error.update(safe_text(what_is_missing(state.error)))  # paths, ids
        if state.status is ReaderStatus.READY and state.switching_to is None:
            self._done(state)

    def on_screen_resume(self) -> None:
        """A reader that loaded while another screen was on top (training, a dialog): this screen's work is done."""
        if self.state.status is ReaderStatus.READY:
            self.call_later(self._done, self.state)

    def _done(self, state: ReaderState) -> None:
        """Leave for the chat, once, and only from the top of the stack: ``dismiss`` pops whatever screen is on top
        (the Train screen, when a run was just made active over it), and a second dismiss would end the app. A
        reader that loaded while this screen was covered is seen again when it comes back (``on_screen_resume``)."""
        if self.app.screen is self and not self._leaving:
            self._leaving = True
            self.notify(f"{state.name} is loaded: ask away.", title="Reader ready", timeout=6)
            self.dismiss(None)

    def _load(self, ref: str, words: str) -> None:
        self.asked = words
        self.app.post_message(SwitchReader(ref))

    # --- the ways forward -----------------------------------------------------------------------------------------
    @on(Button.Pressed, "#download")
    def _download(self) -> None:
        self._load(DEFAULT_READER, f"Downloading {DEFAULT_READER}; this takes a minute or two")

    @on(Button.Pressed, "#open-folder")
    def _open_folder(self) -> None:
        self.app.push_screen(checkpoint_dialog(), self._folder_picked)

    def _folder_picked(self, folder: Path | None) -> None:
        if folder is not None:
            self._load(str(folder), f"Loading {Path(folder).name}")

    @on(Button.Pressed, "#train")
    async def _train(self) -> None:
        """The Train screen, with the fields that can work offline filled in (when it offers that)."""
        await self.app.push_screen("train")
        prefill = getattr(self.app.screen, "prefill_offline", None)
        if callable(prefill):
            prefill()
