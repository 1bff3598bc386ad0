"""Rich rendering of answers for `assistant ask`."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from assistant.core.engine import AskResult


def answer_panel(result: AskResult, document_name: str) -> Panel:
    body: list[Text] = []
    if not result.answers:
        body.append(Text("Not found in this document", style="bold yellow"))
        if result.no_answer_reason:
            body.append(Text(f"({result.no_answer_reason})", style="dim"))
    for rank, answer in enumerate(result.answers):
        head = Text()
        head.append(answer.text, style="bold green" if rank == 0 else "green")
        head.append(f"  {answer.score:.0%} · line {answer.line}", style="dim")
        body.append(head)
        context = Text(answer.context.replace("\n", " "), style="italic")
        offset = answer.start - answer.context_start
        context.stylize("bold underline", offset, offset + len(answer.text))
        body.append(context)
        body.append(Text(""))
    ms = result.timings.get("answer_ms", 0.0)
    return Panel(
        Group(*body),
        title=Text(result.question, style="bold"),
        subtitle=f"{document_name} · {len(result.passages)} passage(s) read · {ms:.0f} ms",
        border_style="cyan",
    )
