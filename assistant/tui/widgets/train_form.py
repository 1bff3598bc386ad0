"""The Train screen's form: base model, data and settings, built from ``TrainConfig``'s fields.

The fields are typed once, in assistant.runs.config: each input shows its field's default, is typed by its
type and helped by its help. The form turns itself into a ``TrainConfig``, and into the text values that the
Train screen remembers between sessions.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from assistant.core import files
from assistant.core.defaults import DEFAULT_BASE, DEFAULT_DATASET
from assistant.core.errors import UserError
from assistant.paths import annotations_path
from assistant.rendering import assemble, safe_text
from assistant.tui.widgets.text_input import TextInput

if TYPE_CHECKING:  # the config imports torch: it is imported when the form is first shown
    from assistant.runs.config import TrainConfig
    from assistant.tui.train_check import DataCheck

DATA_CHOICES = [
    ("SQuAD v1.1 (hub)", "squad"),
    ("SQuAD v2.0 (hub)", "squad_v2"),
    ("A local file", "file"),
    ("My annotations", "annotations"),
    ("SQuAD + my annotations", "squad+annotations"),
]
DEVICE_CHOICES = [("auto", "auto"), ("cpu", "cpu"), ("cuda", "cuda")]
BASE_DEFAULT, BASE_ACTIVE, BASE_OTHER = "default", "active", "other"
"""Where the base model comes from: the hub's default base, the active reader, or the input below the choice."""
CHOICE_NAME_WIDTH = 14
"""The longest run name in a choice that still fits the form's width on one line (the input shows it whole)."""


@dataclass(frozen=True)
class FormField:
    """One input of the form: a TrainConfig field, shown with its default, typed by its type, helped by its help."""

    name: str
    label: str | None = None
    """Default: the field's name in words ("learning_rate" -> "Learning rate")."""
    also: tuple[str, ...] = ()
    """More TrainConfig fields that take the same value."""
    gpus: int = 0
    """Shown only when at least this many GPUs are visible; else hidden, at its default, and not remembered."""

    def offered(self) -> bool:
        from assistant.runs.config import visible_gpus

        return self.gpus == 0 or visible_gpus() >= self.gpus


FORM_BEFORE_DATA = (FormField("base_model"),)
FORM_AFTER_DATA = (
    FormField("epochs"),
    FormField("learning_rate"),
    FormField("batch_size"),
    FormField("max_train_samples", "Sample limit (empty = all)", also=("max_eval_samples",)),
    FormField("nproc", "Processes (one per GPU)", gpus=2),
)
REMEMBERED = (
    "base-choice",
    "base_model",
    "data-choice",
    "data-path",
    *(f.name for f in FORM_AFTER_DATA if f.gpus == 0),  # a machine's GPUs are no setting to carry to the next
    "device",
)
"""The widgets whose values are remembered between sessions, by id."""


def _config_fields() -> dict[str, tuple[dataclasses.Field[Any], Any]]:
    """Each TrainConfig field with its resolved type."""
    from assistant.runs.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    return {f.name: (f, hints.get(f.name, str)) for f in dataclasses.fields(TrainConfig)}


def _scalar(hint: Any) -> tuple[type, bool]:
    """The value type of a field's type and whether it may be None (``int | None`` -> ``(int, True)``)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 and isinstance(args[0], type) else str), type(None) in typing.get_args(hint)
    return (hint if isinstance(hint, type) else str), False


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _shown(value: Any) -> str:
    """A default as the form shows it: 2.0 -> "2", 5e-05 -> "5e-5", None -> ""."""
    if value is None:
        return ""
    if isinstance(value, float):
        return re.sub(r"e([+-])0*(\d)", lambda m: f"e{'-' if m[1] == '-' else ''}{m[2]}", f"{value:g}")
    return str(value)


def _label(spec: FormField) -> str:
    return spec.label or spec.name.replace("_", " ").capitalize()


def _help(field: dataclasses.Field[Any]) -> str | None:
    """The field's ``metadata["help"]``, when the config has one."""
    help_text = field.metadata.get("help") if field.metadata else None
    return help_text if isinstance(help_text, str) and help_text else None


def base_choices(active: Path | None) -> list[tuple[Text, str]]:
    """The base model's choices: the default base, the active reader when there is one, or a typed model (each
    prompt is text: a run's folder name is shown as it is, never as markup or terminal control)."""
    choices = [("Default base (hub)", BASE_DEFAULT)]
    if active is not None:
        name = active.name if len(active.name) <= CHOICE_NAME_WIDTH else active.name[: CHOICE_NAME_WIDTH - 1] + "…"
        choices.append((f"Active reader: {name}", BASE_ACTIVE))
    choices.append(("Other (type it below)", BASE_OTHER))
    return [(safe_text(prompt, single_line=True), value) for prompt, value in choices]


def _in_form_words(message: str) -> str:
    """A settings problem named by the form's labels, not the trainer's flags ("--batch-size" -> "Batch size")."""
    from assistant.runs.config import flag

    for spec in (*FORM_BEFORE_DATA, *FORM_AFTER_DATA, FormField("device")):
        for name in (spec.name, *spec.also):
            message = message.replace(flag(name), _label(spec))
    return message


def _replay(base_model: str) -> dict[str, Any]:
    """Replay of the base reader's own data beside the annotations, when that data is at hand."""
    from assistant.runs.annotation_training import ANNOTATION_SETTINGS, replay_source

    source = replay_source(base_model)
    return {"replay_data": source, "replay_ratio": ANNOTATION_SETTINGS["replay_ratio"]} if source else {}


def check_note(check: DataCheck) -> Text:
    """A data check as the form shows it: the problem, else the warning and what the data holds."""
    if check.problem:
        return assemble(("✗", "b red"), f" {check.problem}")
    warning: list[str | tuple[str, str]] = [("!", "b yellow"), f" {check.warning}\n"] if check.warning else []
    return assemble(*warning, ("✓", "green"), f" {check.summary}")


class TrainForm(VerticalScroll):
    """Base model, data, settings and the Start/Cancel buttons; it scrolls when the terminal is short."""

    def __init__(self, active: Path | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.active = active
        """The active run's folder when the form was last refreshed ("start from the active reader")."""
        self._noted: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        """Each note shown, with the inputs it is about and their values then: it goes when they change."""

    def compose(self) -> ComposeResult:
        config = _config_fields()
        with Horizontal(id="base-label-row"):  # Browse… beside the label: the id or path below gets the full width
            yield Label("Base model")
            yield Button("Browse…", id="browse-base", compact=True)
        yield Select(base_choices(self.active), value=BASE_DEFAULT, allow_blank=False, id="base-choice")
        yield self._input(FORM_BEFORE_DATA[0], *config["base_model"])
        yield Static("", id="base-note", classes="note")
        yield Label("Data")
        yield Select(DATA_CHOICES, value="squad", allow_blank=False, id="data-choice")
        with Horizontal(id="data-file"):
            yield TextInput(placeholder="SQuAD JSON / JSONL / CSV", id="data-path")
            yield Button("Browse…", id="browse")
        yield Static("", id="data-status", classes="note")
        yield Static("", id="annotation-note", classes="note")
        for spec in FORM_AFTER_DATA:
            shown = spec.offered()
            yield Label(_label(spec), id=f"{spec.name}-label").set_styles(display="block" if shown else "none")
            yield self._input(spec, *config[spec.name]).set_styles(display="block" if shown else "none")
        yield Label(_label(FormField("device")))
        yield Select(DEVICE_CHOICES, value=str(_default(config["device"][0])), allow_blank=False, id="device")
        with Horizontal(id="buttons"):
            yield Button("Start", variant="primary", id="start")
            yield Button("Cancel", variant="error", id="cancel", disabled=True)

    @staticmethod
    def _input(spec: FormField, field: dataclasses.Field[Any], hint: Any) -> Input:
        kind, _ = _scalar(hint)
        input_type: typing.Literal["integer", "number", "text"] = (
            "integer" if kind is int else "number" if kind is float else "text"
        )
        widget = TextInput(_shown(_default(field)), id=spec.name, type=input_type)
        widget.tooltip = _help(field)
        return widget

    def on_mount(self) -> None:
        self.query_one("#data-file").display = False
        for note in self.query(".note"):
            note.display = False

    # --- the base model ---------------------------------------------------------------------------
    def _choice_ref(self, choice: object) -> str | None:
        """The model a choice stands for; None for the typed one."""
        if choice == BASE_DEFAULT:
            return DEFAULT_BASE
        if choice == BASE_ACTIVE and self.active is not None:
            return str(self.active)
        return None

    @on(Select.Changed, "#base-choice")
    def _base_chosen(self, event: Select.Changed) -> None:
        if event.value != event.select.value:  # a stale event of an earlier value
            return
        ref = self._choice_ref(event.value)
        typed = self.query_one("#base_model", Input)
        if ref is not None:
            typed.value = ref
        elif typed.value.strip() in (DEFAULT_BASE, str(self.active)):  # "Other": the path or id is the user's to type
            typed.value = ""
            typed.focus()

    @on(Input.Changed, "#base_model")
    def _base_typed(self, event: Input.Changed) -> None:
        """A model typed over the chosen one makes the choice "a model folder or hub id"."""
        choice = self.query_one("#base-choice", Select)
        ref = self._choice_ref(choice.value)
        if event.value == event.input.value and ref is not None and event.value.strip() != ref:
            with self.prevent(Select.Changed):  # not the user's pick of "Other": what was typed stays
                choice.value = BASE_OTHER

    def refresh_base_choices(self, active: Path | None) -> None:
        """Offer the active reader as it is now; a choice of it follows it, or becomes the model it was."""
        if active == self.active:
            return
        choice = self.query_one("#base-choice", Select)
        chosen = choice.value
        self.active = active
        with self.prevent(Select.Changed, Input.Changed):
            choice.set_options(base_choices(active))
            choice.value = chosen if chosen != BASE_ACTIVE or active is not None else BASE_OTHER
            ref = self._choice_ref(choice.value)
            if ref is not None:
                self.query_one("#base_model", Input).value = ref

    def set_base(self, ref: str) -> None:
        """Start from ``ref``: the active reader's choice when it is that, else the typed model."""
        with self.prevent(Select.Changed, Input.Changed):
            is_active = self.active is not None and ref == str(self.active)
            self.query_one("#base-choice", Select).value = BASE_ACTIVE if is_active else BASE_OTHER
            self.query_one("#base_model", Input).value = ref
        self._hide_stale_notes()  # a note about the base before is not about this one

    def show_note(self, selector: str, text: str | Text, about: tuple[str, ...] = ("base", "data")) -> None:
        """A line under a field (the base model's or the data's), shown as text (names and errors as they are);
        empty hides it. It is ``about`` some inputs ("base", "data"): it goes once one of them changes."""
        note = self.query_one(selector, Static)
        note.update(text if isinstance(text, Text) else safe_text(text))
        note.display = bool(text)
        self._noted[selector] = (about, self._inputs(about))

    def _inputs(self, about: tuple[str, ...]) -> tuple[str, ...]:
        values = {
            "base": (self.query_one("#base_model", Input).value.strip(),),
            "data": (self.data_choice(), self.query_one("#data-path", Input).value.strip()),
        }
        return tuple(value for name in about for value in values[name])

    @on(Input.Changed, "#base_model")
    @on(Input.Changed, "#data-path")
    @on(Select.Changed, "#data-choice")
    def _hide_stale_notes(self) -> None:
        """A check's outcome or a hint about a base model or data no longer chosen would mislead: it goes."""
        for selector, (about, values) in list(self._noted.items()):
            if self._inputs(about) != values:
                del self._noted[selector]
                note = self.query_one(selector, Static)
                note.update("")
                note.display = False

    # --- the data ---------------------------------------------------------------------------------
    @on(Select.Changed, "#data-choice")
    def _data_chosen(self, event: Select.Changed) -> None:
        self.query_one("#data-file").display = event.select.value == "file"
        self._show_annotation_settings(event.select.value == "annotations")

    def _show_annotation_settings(self, chosen: bool) -> None:
        """Learning from annotations alone has its own measured settings: fill them in and say why."""
        from assistant.runs.annotation_training import ANNOTATION_SETTINGS

        if chosen:
            for name in (spec.name for spec in FORM_AFTER_DATA):
                if name in ANNOTATION_SETTINGS:
                    self.query_one(f"#{name}", Input).value = _shown(ANNOTATION_SETTINGS[name])
        self._show_annotation_note(chosen)

    def _show_annotation_note(self, chosen: bool) -> None:
        """What the annotation settings were chosen on, shown while "My annotations" is the data."""
        from assistant.runs.annotation_training import MEASURED

        self.show_note("#annotation-note", MEASURED if chosen else "")

    def set_data_file(self, path: Path | str) -> None:
        self.choose_data("file")
        self.query_one("#data-path", Input).value = str(path)

    def choose_data(self, choice: str) -> None:
        self.query_one("#data-choice", Select).value = choice

    def data_choice(self) -> str:
        return str(self.query_one("#data-choice", Select).value)

    def _data(self) -> tuple[str, list[str]]:
        """``data`` and ``extra_data`` from the data choice; raises ValueError with a message for the user."""
        choice = self.data_choice()
        notes = annotations_path()
        if choice == "file":
            path = self.query_one("#data-path", Input).value.strip()
            try:
                found = bool(path) and files.path_kind(files.user_path(path)) == "file"
            except UserError as exc:
                raise ValueError(str(exc)) from None
            if not found:
                raise ValueError("Give the path of an existing data file (Browse… picks one).")
            return path, []
        if choice == "annotations":
            if not notes.exists():
                raise ValueError("No annotations yet: mark an answer right or save a span in the chat first.")
            return str(notes), []
        data = "rajpurkar/squad_v2" if choice == "squad_v2" else DEFAULT_DATASET
        return data, [str(notes)] if choice == "squad+annotations" and notes.exists() else []

    # --- the form as values and as a TrainConfig --------------------------------------------------
    def values(self) -> dict[str, str]:
        """The remembered widgets' values, as text by id."""
        out: dict[str, str] = {}
        for widget_id in REMEMBERED:
            widget = self.query_one(f"#{widget_id}")
            assert isinstance(widget, (Input, Select))
            out[widget_id] = str(widget.value)
        return out

    def restore(self, values: Mapping[str, str]) -> None:
        """Show remembered values; one that no longer fits its widget (a choice gone) keeps the default."""
        with self.prevent(Select.Changed):  # remembered settings stay, even those of "My annotations"
            for widget_id in REMEMBERED:
                value = values.get(widget_id)
                widget = self.query_one(f"#{widget_id}")
                if value is None or (widget_id == "base_model" and values.get("base-choice") != BASE_OTHER):
                    continue  # the default base and the active reader are what they are now
                if isinstance(widget, Select):
                    if value in self._choices(widget_id):
                        widget.value = value
                elif isinstance(widget, Input):
                    widget.value = value
        ref = self._choice_ref(self.query_one("#base-choice", Select).value)
        if ref is not None:
            self.query_one("#base_model", Input).value = ref
        self.query_one("#data-file").display = self.data_choice() == "file"
        self._show_annotation_note(self.data_choice() == "annotations")

    def _choices(self, select_id: str) -> set[str]:
        if select_id == "base-choice":
            return {value for _, value in base_choices(self.active)}
        return {value for _, value in {"data-choice": DATA_CHOICES, "device": DEVICE_CHOICES}[select_id]}

    def _field_value(self, spec: FormField, field: dataclasses.Field[Any], hint: Any) -> Any:
        """One input's value as its field's type: empty is None where allowed, else the default."""
        text = self.query_one(f"#{spec.name}", Input).value.strip()
        kind, optional = _scalar(hint)
        if not text:
            return None if optional else _default(field)
        if kind not in (int, float):
            return text
        try:
            return kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(f"{_label(spec)} must be {what} (got {text!r}).") from None

    def build_config(self, overrides: Mapping[str, Any], run_path: Path | None = None) -> TrainConfig:
        """The run's settings from the form and ``overrides``; raises ValueError with a message for the user."""
        from assistant.runs.config import TrainConfig

        config = _config_fields()
        data, extra = self._data()
        values: dict[str, Any] = {"data": data, "extra_data": extra, "output": str(run_path) if run_path else None}
        for spec in (*FORM_BEFORE_DATA, *FORM_AFTER_DATA):
            value = self._field_value(spec, *config[spec.name])
            values |= {name: value for name in (spec.name, *spec.also)}
        values["device"] = str(self.query_one("#device", Select).value)
        if self.data_choice() == "annotations":
            values |= _replay(str(values["base_model"]))
        try:
            train_config = dataclasses.replace(TrainConfig(**values), **overrides)
            train_config.validate()
        except (TypeError, UserError) as exc:
            raise ValueError(_in_form_words(str(exc))) from None
        return train_config
