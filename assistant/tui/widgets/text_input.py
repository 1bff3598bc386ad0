"""Inputs that show what they hold as text: a pasted control character is shown as its stand-in, never obeyed.

The value itself stays exactly what was typed or pasted (a path with odd bytes still opens); only what reaches
the terminal goes through the sanitizer, one character for one, so the cursor stays where it is.
"""

from __future__ import annotations

from typing import Any

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Input

from assistant.core.sanitize import one_line


class TerminalSafe(Highlighter):
    """The highlighter every input shows its value through: control and bidi-control characters as stand-ins."""

    def __call__(self, text: str | Text) -> Text:
        plain = text if isinstance(text, str) else text.plain
        safe = Text(one_line(plain), no_wrap=True, overflow="ignore", end="")
        if isinstance(text, Text):
            safe.style = text.style
        return safe

    def highlight(self, text: Text) -> None:  # the work is done in __call__
        return None


class TextInput(Input):
    """An Input whose value is shown through :class:`TerminalSafe`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("highlighter", TerminalSafe())
        super().__init__(*args, **kwargs)

    @property
    def _value(self) -> Text:
        """The value as drawn, made from the value itself: Rich's Text would drop a BEL or a backspace before the
        highlighter saw it, and the cursor (an index into the value) would land one cell off."""
        if self.password:
            return Text("•" * len(self.value), no_wrap=True, overflow="ignore", end="")
        return Text(one_line(self.value), no_wrap=True, overflow="ignore", end="")
