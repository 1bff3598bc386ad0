"""The command palette provider: the actions of assistant.tui.actions that work on the current screen."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from assistant.tui.actions import Action, Scoped, palette_actions


class AssistantCommands(Provider):
    def _actions(self) -> list[tuple[Action, Callable[[], object]]]:
        screen = self.screen
        scope = screen.SCOPE if isinstance(screen, Scoped) else None
        return [
            (a, partial(self.app.run_action, a.name, screen if a.scope != "app" else None))
            for a in palette_actions(scope)
        ]

    async def discover(self) -> Hits:
        for action, run in self._actions():
            yield DiscoveryHit(action.title, run, help=palette_help(action))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, run in self._actions():
            score = matcher.match(action.title)
            if score > 0:
                yield Hit(score, matcher.highlight(action.title), run, help=palette_help(action))


def palette_help(action: Action) -> str:
    """The palette's line under an action: its key first, so that the palette teaches the key."""
    return f"{action.key} · {action.description}" if action.key else action.description
