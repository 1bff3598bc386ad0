"""At 80x24, the smallest terminal people use, every text field shows its value or its hint whole: a hub id or a
placeholder cut at the field's edge reads as another value."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from assistant.tui.app import AssistantApp
from tests.pilot import settle, wait_until, write_story

SMALL = (80, 24)


def _cut_fields(screen) -> list[str]:
    """The shown text fields whose value (or placeholder, when empty) is wider than the room the field gives it."""
    cut = []
    for field in screen.query(Input):
        if not field.display or field.region.width == 0:
            continue
        shown = field.value or field.placeholder
        if len(shown) + 1 > field.content_region.width:  # the cursor's cell after the text
            cut.append(f"#{field.id}: {shown!r} in {field.content_region.width} columns")
    return cut


@pytest.mark.parametrize(
    ("keys", "screen_name"),
    [((), "ChatScreen"), (("ctrl+t",), "TrainScreen"), (("f4",), "SettingsScreen")],
)
async def test_text_fields_show_their_values_whole_at_80_columns(story_at_80, keys, screen_name):
    app = AssistantApp(document_path=story_at_80)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        await pilot.press(*keys)
        await wait_until(pilot, lambda: type(app.screen).__name__ == screen_name, timeout=30)
        await pilot.pause()
        fields = [f for f in app.screen.query(Input) if f.display]
        assert fields, f"{screen_name} shows a text field"
        assert _cut_fields(app.screen) == []


@pytest.fixture
def story_at_80(tmp_path, isolated_dirs):
    return write_story(tmp_path)


async def test_a_notice_leaves_the_question_and_the_status_line_readable(story_at_80):
    app = AssistantApp(document_path=story_at_80)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(app, pilot)
        app.notify("A notice long enough to take three rows of the toast at eighty columns, as they do.")
        await wait_until(pilot, lambda: any(t.region.area for t in app.screen.query("Toast")), timeout=30)
        for kept in ("#status-row", "#question"):
            region = app.screen.query_one(kept).region
            for toast in app.screen.query("Toast"):
                assert not toast.region.overlaps(region), (kept, toast.region, region)


async def test_the_status_line_keeps_the_readers_scores_with_a_folder_open(story_at_80):
    folder = story_at_80.parent / "docs"
    folder.mkdir()
    (folder / "plan.txt").write_text("The budget is ten thousand dollars.\n", encoding="utf-8")
    (folder / "readme.md").write_text("# Readme\n\nThe server listens on port 8080.\n", encoding="utf-8")
    (folder / "blob.bin").write_bytes(bytes(range(256)))
    app = AssistantApp(document_path=folder)
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot)
        status = app.chat.query_one("#status")
        await wait_until(pilot, lambda: "not read (f6)" in str(status.content) and "F1" in str(status.content))
        shown = str(status.content)
        assert shown.rstrip().endswith("EM 77.9 / F1 86.1") and len(shown) <= status.size.width, shown
