"""Every action of the app, once: it feeds the key bindings, the command palette and the help screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from textual.binding import Binding, BindingType

Scope = Literal["app", "chat", "train", "metrics", "annotations"]
"""Where the ``action_<name>`` method lives: the App (works on every screen) or one screen."""

SCOPE_TITLES: dict[Scope, str] = {
    "app": "Everywhere",
    "chat": "Chat",
    "train": "Train screen",
    "metrics": "Metrics screen",
    "annotations": "Annotations screen",
}


@dataclass(frozen=True)
class Action:
    id: str
    """The binding id (what a keymap names)."""
    name: str
    """The action: ``action_<name>`` on the App or on the screen of ``scope``."""
    title: str
    """The command palette's entry and the help screen's name for it."""
    description: str
    key: str | None = None
    """The key that runs it; None for palette-only actions."""
    footer: str | None = None
    """The footer's short label; None keeps the key out of the footer."""
    scope: Scope = "app"

    @property
    def help_key(self) -> str:
        """How the help screen says to run it: its key, else the document's (as in less), else the palette (ctrl+p)."""
        in_document = {action: shown for shown, _, action, _ in PAGER_KEYS}.get(f"screen.{self.name}")
        return self.key or (f"{in_document} (document)" if in_document else "palette")


ACTIONS: tuple[Action, ...] = (
    # The chat screen's own keys: the footer shows them before the app's.
    Action(
        "chat-candidates",
        "candidates",
        "Show candidates",
        "Show or hide the other candidates of the last answer",
        "ctrl+j",
        "More",
        "chat",
    ),
    Action(
        "chat-mark-right",
        "mark_right",
        "Mark the answer right",
        "Mark the last answer right (good); it is saved as an annotation",
        "ctrl+g",
        "Right",
        "chat",
    ),
    Action(
        "chat-mark-wrong",
        "mark_wrong",
        "Mark the answer wrong",
        "Mark the last answer wrong (bad), then select the right one in the document",
        "ctrl+b",
        "Wrong",
        "chat",
    ),
    Action(
        "chat-save-span",
        "save_span",
        "Save the selected span",
        "Save the text selected in the document as the right answer",
        "ctrl+s",
        "Save",
        "chat",
    ),
    Action(
        "chat-focus-question", "focus_question", "Ask a question", "Move to the question input", "ctrl+l", None, "chat"
    ),
    Action(
        "chat-find",
        "find",
        "Find in the document",
        "Find text in the document, case-insensitive",
        "ctrl+f",
        "Find",
        "chat",
    ),
    Action(
        "chat-find-next",
        "find_next",
        "Next match",
        "Go to the next match of the find (enter in the find bar)",
        scope="chat",
    ),
    Action(
        "chat-find-previous",
        "find_previous",
        "Previous match",
        "Go to the previous match of the find (up in the find bar)",
        scope="chat",
    ),
    Action(
        "chat-go-to-line",
        "go_to_line",
        "Go to line",
        "Show a line of the document by its number",
        "ctrl+n",
        None,
        "chat",
    ),
    Action(
        "chat-next-candidate",
        "next_candidate",
        "Next candidate",
        "Show the answer's next candidate in the document (click a card or a candidate to show it)",
        "ctrl+down",
        None,
        "chat",
    ),
    Action(
        "chat-previous-candidate",
        "previous_candidate",
        "Previous candidate",
        "Show the answer's previous candidate in the document",
        "ctrl+up",
        None,
        "chat",
    ),
    Action(
        "chat-copy-answer",
        "copy_answer",
        "Copy the answer",
        "Copy the answer (or the candidate shown) to the clipboard",
        "ctrl+y",
        None,
        "chat",
    ),
    # The app's: on every screen (the footer shows them in this order, after the screen's own: what a newcomer
    # needs first, so that an 80-column footer still shows it).
    Action("app-help", "help", "Help", "Key bindings and how it works", "f1", "Help"),
    Action("app-train", "train", "Train a reader", "Fine-tune a reader model", "ctrl+t", "Train"),
    Action("app-open", "open_document", "Open document", "Open a document or a folder to chat with", "ctrl+o", "Open"),
    Action("app-metrics", "metrics", "Show metrics", "EM/F1 of every trained run", "f2", "Metrics"),
    Action("app-switch-model", "switch_model", "Switch model", "Pick another reader model", "f3", "Model"),
    Action(
        "app-settings",
        "settings",
        "Settings",
        "Answers per question, confidence, int8, device, theme and default model (settings.toml)",
        "f4",
        "Settings",
    ),
    Action(
        "app-annotations",
        "annotations",
        "Annotations",
        "See the answers you saved, edit their questions or delete them",
        "f5",
        "Notes",
    ),
    Action(
        "chat-sources",
        "sources",
        "Sources",
        "The files of the open document or folder: those read, and those not read with why",
        "f6",
        None,
        "chat",
    ),
    Action("app-clear", "clear_conversation", "Clear conversation", "Forget this document's conversation"),
    Action("app-export", "export_conversation", "Export conversation", "Save the conversation as Markdown"),
    Action(
        "app-stop-loading",
        "stop_loading",
        "Stop loading",
        "Stop opening a document, and loading a reader; the document open before and the reader answering go on",
        "escape",
    ),
    # The Train screen's.
    Action(
        "train-start", "start", "Start training", "Start a run with the form's settings", "ctrl+r", "Start", "train"
    ),
    Action(
        "train-cancel",
        "cancel",
        "Cancel the run",
        "Stop the run; the active reader is unchanged",
        "ctrl+b",
        "Cancel run",
        "train",
    ),
    Action(
        "train-browse",
        "browse_data",
        "Pick a data file",
        "Choose a local SQuAD JSON, JSONL or CSV file for training with the file dialog",
        scope="train",
    ),
    Action(
        "train-check",
        "check_data",
        "Check the training data",
        "Read the base model and data as the trainer will, and say what is wrong or how many questions evaluate",
        scope="train",
    ),
    # The metrics panel's.
    Action(
        "metrics-activate",
        "activate",
        "Make the run active",
        "Make the selected run the active reader",
        "a",
        "Make active",
        "metrics",
    ),
    Action("metrics-reload", "reload", "Reload runs", "Read the runs folder again", "r", "Reload", "metrics"),
    Action(
        "metrics-resume",
        "resume",
        "Resume the run",
        "Continue a cancelled, interrupted or failed run from its last checkpoint, with its own settings",
        "R",
        "Resume",
        "metrics",
    ),
    Action("metrics-mark", "mark", "Mark a run", "Mark or unmark the run to compare", "space", "Mark", "metrics"),
    Action(
        "metrics-compare",
        "compare",
        "Compare two runs",
        "Show the two marked runs (or the marked and the selected one) side by side",
        "c",
        "Compare",
        "metrics",
    ),
    Action(
        "metrics-delete",
        "delete",
        "Delete the run",
        "Delete the selected run's folder, after asking (never the active or a running run)",
        "d",
        "Delete",
        "metrics",
    ),
)

ANNOTATION_ACTIONS = (
    Action(
        "annotations-edit",
        "edit",
        "Edit the question",
        "Edit the question of the selected annotation",
        "e",
        "Edit",
        "annotations",
    ),
    Action(
        "annotations-delete",
        "delete",
        "Delete the annotation",
        "Delete the selected annotation, after asking",
        "d",
        "Delete",
        "annotations",
    ),
)
ACTIONS = ACTIONS + ANNOTATION_ACTIONS

OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "ask the question"),
    ("up / down", "earlier questions"),
    ("escape", "back, or close a dialog"),
    ("ctrl+p", "command palette: every action"),
    ("ctrl+q", "quit"),
)
"""Keys that are not actions of their own (typing, navigation, Textual's palette and quit): help only."""


PAGER_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("j", "j", "scroll_line(1)", "a line down"),
    ("k", "k", "scroll_line(-1)", "a line up"),
    ("g", "g", "document_start", "the top"),
    ("G", "G", "document_end", "the end"),
    ("ctrl+d", "ctrl+d", "half_page(1)", "half a page down"),
    ("ctrl+u", "ctrl+u", "half_page(-1)", "half a page up"),
    ("/", "slash", "screen.find", "find"),
    ("n", "n", "screen.find_next", "next match"),
    ("N", "N", "screen.find_previous", "previous match"),
)
"""The document's keys when it has the focus, as in less (shown, Textual's key name, action, what it does): they
feed its bindings and the help screen."""


def pager_bindings() -> list[BindingType]:
    return [Binding(key, action, what, show=False, id=f"document-{action}") for _, key, action, what in PAGER_KEYS]


@runtime_checkable
class Scoped(Protocol):
    """A screen whose actions are those of its scope (ChatScreen, TrainScreen, MetricsScreen)."""

    SCOPE: Scope


def actions_for(scope: Scope) -> list[Action]:
    return [a for a in ACTIONS if a.scope == scope]


def bindings(scope: Scope) -> list[BindingType]:
    """The key bindings of one scope, for its BINDINGS."""
    return [
        Binding(a.key, a.name, a.footer or a.title, show=a.footer is not None, id=a.id)
        for a in actions_for(scope)
        if a.key is not None
    ]


def palette_actions(scope: Scope | None) -> list[Action]:
    """What the command palette offers on a screen: the app's actions, then that screen's."""
    own = actions_for(scope) if scope is not None and scope != "app" else []
    return [*actions_for("app"), *own]


def help_markdown() -> str:
    """The help screen's key table: every action, by where it works, then the other keys."""
    lines = ["| key | action |", "|---|---|"]
    for scope, title in SCOPE_TITLES.items():
        lines.append(f"| **{title}** | |")
        for a in actions_for(scope):
            lines.append(f"| {a.help_key} | {a.title}: {a.description} |")
    lines.append("| **Document, when it has the focus (as in less)** | |")
    lines += [f"| {shown} | {what} |" for shown, _, _, what in PAGER_KEYS]
    lines.append("| **Keys** | |")
    lines += [f"| {key} | {what} |" for key, what in OTHER_KEYS]
    return "\n".join(lines)
