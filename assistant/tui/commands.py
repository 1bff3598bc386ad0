"""The command palette provider: every action of the app, searchable."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS: list[tuple[str, str, str]] = [
    ("Open document", "open_document", "Open a text file to chat with"),
    ("Ask a question", "focus_question", "Move to the question input"),
    ("Train a reader", "train", "Fine-tune a reader model"),
    ("Show metrics", "metrics", "EM/F1 of every trained run"),
    ("Switch model", "switch_model", "Pick another reader model"),
    ("Clear conversation", "clear_conversation", "Forget this document's conversation"),
    ("Export conversation", "export_conversation", "Save the conversation as Markdown"),
    ("Help", "help", "Key bindings and how it works"),
]


class AssistantCommands(Provider):
    async def discover(self) -> Hits:
        for name, action, help_text in ACTIONS:
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action), help=help_text)
