"""The terminal renderer: every Rich view the command line prints (`assistant ask`, `assistant models`), and
:func:`safe_text`, the one way a string from outside reaches a terminal in the CLI and the chat app.

The reading engine hands out typed ``AskResult`` objects and the runs module typed ``RunInfo`` rows;
this module is the one place that turns them into Rich renderables for the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from assistant.core.engine import Answer, AskResult
from assistant.core.sanitize import one_line, visible
from assistant.runs.registry import RunInfo


def safe_text(text: object, style: str = "", *, single_line: bool = False) -> Text:
    """A string from outside (document text, a file or run name, a question, an error quoting them) as Rich text:
    never parsed as markup, every control and bidi-control character shown as a visible stand-in, one for one
    (so offsets into it still hold); ``single_line`` turns line breaks into spaces too."""
    clean = one_line(str(text)) if single_line else visible(str(text))
    return Text(clean, style=style)


def assemble(*parts: str | tuple[str, str]) -> Text:
    """Text from pieces, each shown as it is (control characters visible, never markup); a ``(text, style)`` pair
    is styled. What the chat app writes where it once wrote markup around a name or an error."""
    text = Text()
    for part in parts:
        content, style = (part, "") if isinstance(part, str) else part
        text.append(visible(content), style=style)
    return text


def _answer_lines(answer: Answer, best: bool) -> list[Text]:
    head = safe_text(answer.text, "bold green" if best else "green", single_line=True)
    head.append_text(safe_text(f"  {answer.score:.0%} · {answer.source}", "dim", single_line=True))
    context = safe_text(answer.context, "italic", single_line=True)
    offset = answer.start - answer.context_start
    context.stylize("bold underline", offset, offset + len(answer.text))
    return [head, context, Text("")]


def answer_panel(result: AskResult, document_name: str) -> Panel:
    """One question's answers, best first, each with its sentence and the answer underlined."""
    body: list[Text] = []
    if not result.answers:
        body.append(Text("Not found in this document", style="bold yellow"))
        if result.no_answer_reason:
            body.append(safe_text(f"({result.no_answer_reason})", "dim"))
    for rank, answer in enumerate(result.answers):
        body.extend(_answer_lines(answer, rank == 0))
    ms = result.timings.get("answer_ms", 0.0)
    return Panel(
        Group(*body),
        title=safe_text(result.question, "bold", single_line=True),
        subtitle=safe_text(f"{document_name} · {len(result.passages)} passage(s) read · {ms:.0f} ms", single_line=True),
        border_style="cyan",
    )


def _fmt(value: object) -> str:
    """A metric with one decimal, or a dash when it is missing or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value:.1f}"


def runs_table(runs: Sequence[RunInfo]) -> Table:
    """The trained runs in ``models/``: the active one marked, with EM, F1 and training speed."""
    table = Table(title="Reader runs (models/)")
    for column in ("", "run", "status", "base", "EM", "F1", "windows/s", "date"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            "●" if r.active else "",
            safe_text(r.name, single_line=True),
            r.status.value,
            safe_text(r.base_model or "—", single_line=True),
            _fmt(r.exact_match),
            _fmt(r.f1),
            _fmt(r.metrics.get("train_windows_per_second")),
            safe_text(str(r.run.get("started_at") or "—")[:16], single_line=True),
        )
    return table


def clip(text: str, width: int) -> str:
    """At most ``width`` characters, so that the columns after it fit: a path or hub id by its last part when that
    fits, else cut with an ellipsis."""
    if len(text) <= width:
        return text
    last = text.rstrip("/").rsplit("/", 1)[-1]
    return last if len(last) <= width else text[: width - 1] + "…"
