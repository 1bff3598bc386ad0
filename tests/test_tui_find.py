"""The chat screen's reading tools, driven with Pilot as a user would: find, go to line, jumping to answers and
their candidates, copying an answer, a confirmed clear, recent documents and the training indicator."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.text_area import Selection

from assistant.tui.app import AssistantApp
from assistant.tui.messages import TrainingActivity
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.widgets.conversation import AnswerCard
from assistant.tui.widgets.document_view import DocumentView
from assistant.tui.widgets.find_bar import FindBar
from assistant.tui.widgets.line_bar import LineBar
from assistant.tui.widgets.recent_documents import RecentDocuments
from assistant.tui.widgets.text_search import TextSearch
from tests.pilot import allow_every_answer, ask, document_view, notifications, screen_text, settle, wait_until

SIZE = (120, 36)
TEXT = (
    "The cat sat on the mat.\n\n"
    "The dog ran in the park.\n\n"
    "A CAT slept by the door.\n\n"
    "Birds sing at dawn; the cat listens.\n"
)
CATS = [i for i in range(len(TEXT)) if TEXT[i : i + 3].lower() == "cat"]


@pytest.fixture(autouse=True)
def always_answer():
    """Tiny random models give low confidence: let every answer through, with three candidates."""
    return allow_every_answer(top_k=3)


def _count(app) -> str:
    return str(app.chat.query_one("#find-count", Static).content)


# --- find -----------------------------------------------------------------------------------------------------------
async def test_find_counts_matches_and_steps_through_them_highlighting_each(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+f")
        await pilot.press(*"cat")
        await pilot.pause()
        assert _count(app) == "1/3" and document_view(app).selected_span() == (CATS[0], CATS[0] + 3)
        await pilot.press("enter")
        assert _count(app) == "2/3" and document_view(app).selected_text == "CAT"  # case-insensitive
        await pilot.press("enter", "enter")
        assert _count(app) == "1/3" and document_view(app).selected_span() == (CATS[0], CATS[0] + 3)  # wraps round
        await pilot.press("shift+enter")
        assert _count(app) == "3/3" and document_view(app).selected_span() == (CATS[2], CATS[2] + 3)
        await pilot.press("up")
        assert _count(app) == "2/3"
        await pilot.press("down")
        assert _count(app) == "3/3"
        await pilot.press("escape")
        await pilot.pause()
        assert not app.chat.query_one(FindBar).display and app.focused is document_view(app)
        assert document_view(app).selected_span() == (CATS[2], CATS[2] + 3)  # the match stays where the user was taken


async def test_find_starts_at_the_reading_position_and_says_when_nothing_matches(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        document_view(app).selection = Selection.cursor((4, 0))  # "A CAT slept…": the second cat is the next one
        await pilot.press("ctrl+f", *"cat")
        await pilot.pause()
        assert _count(app) == "2/3"
        await pilot.press(*"fish")
        await pilot.pause()
        assert _count(app) == "no match" and document_view(app).selected_span() is None
        app.chat.query_one("#find-input", Input).value = "the"  # still from where the last match was
        await pilot.pause()
        the = [i for i in range(len(TEXT)) if TEXT[i : i + 3].lower() == "the"]
        first = next(n for n, i in enumerate(the) if i >= CATS[1])  # "the door"
        assert _count(app) == f"{first + 1}/{len(the)}"
        app.chat.action_find_next()  # the palette's "Next match": as enter in the bar
        await pilot.pause()
        assert _count(app) == f"{first + 2}/{len(the)}"
        assert document_view(app).selected_span() == (the[first + 1], the[first + 1] + 3)


@pytest.mark.parametrize("key", ["ctrl+f", "ctrl+n"])
async def test_find_and_go_to_line_need_a_document(tiny_model_dir, key):
    app = AssistantApp(model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await pilot.pause()
        assert notifications(app) == ["Open a document first (ctrl+o)."]
        assert not app.chat.query_one(FindBar).display and not app.chat.query_one(LineBar).display


def _every_match(search: TextSearch) -> list[int]:
    """The starts of all matches, stepping from the first as a user pressing enter would."""
    search.find(search.query, 0)
    starts = [search.start]
    for _ in range(search.count - 1):
        search.step(1)
        starts.append(search.start)
    return starts


def test_find_in_a_130000_word_document_counts_every_match():
    rng = random.Random(7)
    words = ["alpha", "Beta", "gamma", "DELTA", "needle", "Needle", "NEEDLE", "haystack"]
    text_words = [rng.choice(words) for _ in range(130_000)]
    text = " ".join(text_words)
    search = TextSearch(text)
    second = [i for i, w in enumerate(text_words) if w.lower() == "needle"][1]
    anchor = len(" ".join(text_words[:second]))  # the reading position: just before the second needle
    assert search.find("needle", anchor) is not None
    expected = sum(w.lower() == "needle" for w in text_words)
    assert search.count == expected and search.label == f"2/{expected}"
    assert text[search.start : search.start + 6].lower() == "needle"
    search.step(-1)
    assert search.label == f"1/{expected}" and search.start == text.lower().find("needle")
    search.step(-1)
    assert search.label == f"{expected}/{expected}" and search.start == text.lower().rfind("needle")  # wraps round
    assert TextSearch(text).find("e") is not None  # one letter: every "e", counted without listing them


@pytest.mark.parametrize("query", ["a", "ab", "aa", "aba", "Ab", "b a", "zz"])
def test_stepping_through_matches_visits_each_non_overlapping_match_once(query):
    text = "aaa ab aba Abab aa b a ba ABA" * 3
    search = TextSearch(text)
    search.find(query)
    expected = [m.start() for m in re.finditer(re.escape(query.lower()), text.lower())]
    assert search.count == len(expected)
    if expected:
        assert _every_match(search) == expected
        search.step(1)
        assert search.start == expected[0] and search.label == f"1/{len(expected)}"


def test_find_keeps_offsets_right_when_lowering_would_change_the_text_length():
    text = "İstanbul and istanbul and ISTANBUL"  # "İ".lower() is two characters
    search = TextSearch(text)
    search.find("stanbul")
    assert [text[a : a + 7] for a in _every_match(search)] == ["stanbul", "stanbul", "STANBUL"]


# --- go to line -----------------------------------------------------------------------------------------------------
async def test_go_to_line_moves_there_and_an_impossible_line_says_why(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+n", *"99", "enter")
        await pilot.pause()
        assert "There is no line 99: the document has lines 1 to 7." in notifications(app)
        bar = app.chat.query_one(LineBar)
        assert bar.display and bar.input.value == ""  # still open, empty for the right number
        await pilot.press("escape", "ctrl+n", *"5", "enter")  # closed and opened again: a number of its own
        await pilot.pause()
        assert document_view(app).cursor_location == (4, 0) and app.focused is document_view(app)
        assert not bar.display


async def test_the_last_line_of_a_long_wrapped_document_can_be_reached(tiny_model_dir, tmp_path):
    """Wrapped rows are counted once per document, not per drawn line: the scroll range must still be right."""
    long = tmp_path / "long.txt"
    long.write_text("".join(f"Row {n} " + "words that wrap " * 12 + f"end of row {n}.\n" for n in range(1, 301)))
    app = AssistantApp(document_path=long, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+n", *"300", "enter")
        await pilot.pause()
        assert "end of row 300." in screen_text(app)
        await pilot.press("ctrl+f", *"row 150 ")
        await pilot.pause()
        assert _count(app) == "1/1" and "Row 150 words" in screen_text(app)


# --- answers in the document ----------------------------------------------------------------------------------------
def _candidate_point(app, card: AnswerCard, rank: int) -> tuple[int, int]:
    """Where on the screen candidate ``rank`` of a card can be clicked (its lines carry their rank)."""
    region = card.region
    for y in range(region.y, region.bottom):
        for x in range(region.x, region.right):
            if app.screen.get_style_at(x, y).meta.get("candidate") == rank:
                return x - region.x, y - region.y
    raise AssertionError(f"candidate {rank} is not on the screen")


async def test_clicking_an_answer_or_a_candidate_shows_it_in_the_document(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, "where did the cat sit?")
        answers = card.result.answers
        assert len(answers) >= 2
        document_view(app).selection = Selection.cursor((6, 0))  # the user has read on
        await pilot.click(card, offset=_candidate_point(app, card, 0))
        await pilot.pause()
        assert document_view(app).selected_span() == (answers[0].start, answers[0].end)
        await pilot.press("ctrl+j")  # the candidates
        await pilot.pause()
        await pilot.click(card, offset=_candidate_point(app, card, 1))
        await pilot.pause()
        assert document_view(app).selected_span() == (answers[1].start, answers[1].end) and card.current == 1


async def test_candidate_keys_step_through_the_candidates_and_ctrl_y_copies_the_one_shown(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        card = await ask(app, pilot, "where did the cat sit?")
        answers = card.result.answers
        await pilot.press("ctrl+y")
        assert app.clipboard == answers[0].text
        assert any(m.startswith("Copied “") and m.endswith("to the clipboard.") for m in notifications(app))
        await pilot.press("ctrl+down")
        await pilot.pause()
        assert document_view(app).selected_span() == (answers[1].start, answers[1].end)
        assert card.show_candidates and card.current == 1  # the card shows which candidate it is
        document_view(app).focus()  # the document's own ctrl+y (redo) must not take the key
        await pilot.press("ctrl+y")
        assert app.clipboard == answers[1].text
        await pilot.press("ctrl+up", "ctrl+up")
        await pilot.pause()
        last = answers[-1]
        assert document_view(app).selected_span() == (last.start, last.end)  # wraps round to the last candidate


@pytest.mark.parametrize("key", ["ctrl+y", "ctrl+down"])
async def test_copy_and_candidates_without_an_answer_say_why(tiny_model_dir, doc, key):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await pilot.pause()
        assert notifications(app) == ["Ask a question first."] and app.clipboard == ""


# --- clearing the conversation --------------------------------------------------------------------------------------
async def test_clear_asks_first_and_no_keeps_the_conversation(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "where did the cat sit?")
        app.action_clear_conversation()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=30)
        assert app.focused is app.screen.query_one("#no", Button)  # No is the default
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.chat.query(AnswerCard)) == 1 and len(app.store.turns(doc)) == 1
        app.action_clear_conversation()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=30)
        await pilot.click("#yes")
        await pilot.pause()
        assert len(app.chat.query(AnswerCard)) == 0 and app.store.turns(doc) == []
        assert "Conversation cleared." in notifications(app)


# --- recent documents -----------------------------------------------------------------------------------------------
async def test_ctrl_o_offers_recent_documents_and_reopens_one(tiny_model_dir, doc, tmp_path):
    from textual_fspicker import FileOpen

    other = tmp_path / "other.md"
    other.write_text("Owls hunt at night.\n", encoding="utf-8")
    gone = tmp_path / "gone.txt"
    gone.write_text("Soon deleted.\n", encoding="utf-8")
    app = AssistantApp(document_path=gone, model=str(tiny_model_dir))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(app, pilot, "what?")
        for path in (doc, other):
            app.chat.open_document(path)
            await settle(app, pilot)
            await ask(app, pilot, "who hunts?")
        gone.unlink()
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, RecentDocuments), timeout=30)
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [label.split("  ")[0] for label in labels] == [
            "other.md",
            "notes.txt",
            "Browse…",
            "Open a folder…",
        ]  # newest first
        assert "(open)" in labels[0]
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.chat.document_path == doc.resolve() and app.chat.indexed is not None)
        await settle(app, pilot)
        assert [c.question for c in app.chat.query(AnswerCard)] == ["who hunts?"]  # its conversation is back
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, RecentDocuments), timeout=30)
        await pilot.press("end", "up", "enter")  # Browse…
        await wait_until(pilot, lambda: isinstance(app.screen, FileOpen), timeout=30)
        app.screen.dismiss(other)
        await settle(app, pilot)
        assert app.chat.document_path == other


def test_the_file_dialog_filters_text_files_first():
    from assistant.tui.widgets.recent_documents import text_file_filters

    filters = text_file_filters()
    assert [name for name, _ in filters.selections] == ["Documents", "All files"]
    assert filters[0](Path("notes.MD")) and filters[0](Path("a.txt")) and not filters[0](Path("photo.png"))
    assert filters[1](Path("photo.png"))


# --- the training indicator and the footer --------------------------------------------------------------------------
async def test_the_training_indicator_shows_while_a_run_goes_and_hides_when_it_ends(tiny_model_dir, doc):
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        indicator = app.chat.query_one("#training", Static)
        assert not indicator.display
        app.get_screen("chat").post_message(TrainingActivity(True, "epoch 1/2 · step 40/100"))
        await pilot.pause()
        assert indicator.display and "training epoch 1/2 · step 40/100" in screen_text(app)
        app.get_screen("chat").post_message(TrainingActivity(False))
        await pilot.pause()
        assert not indicator.display and "training" not in screen_text(app).splitlines()[-2]


async def test_the_footer_shows_the_main_keys_at_80x24(tiny_model_dir, doc):
    """Help and Train, what a newcomer looks for, are not cut off at 80 columns (ctrl+p lists every key)."""
    app = AssistantApp(document_path=doc, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        for label in ("Right", "Wrong", "Find", "f1 Help", "^t Train", "^o Open", "palette"):
            assert label in footer, footer


def _app_on_unwrapped_lines(text: str, tiny_model_dir, tmp_path, monkeypatch) -> AssistantApp:
    """The app on ``text``, shown without wrapping (as a text too long to wrap is)."""
    monkeypatch.setattr(DocumentView, "WRAP_LIMIT", 100)
    long = tmp_path / "long-lines.txt"
    long.write_text(text, encoding="utf-8")
    return AssistantApp(document_path=long, model=str(tiny_model_dir))


async def test_on_long_unwrapped_lines_each_answer_is_shown_from_its_line_start(tiny_model_dir, tmp_path, monkeypatch):
    """A text too long to wrap scrolls sideways for an answer far along a line; the next answer near a line's start
    (and the same answer after a resize) is shown from that start, never with it cut off."""
    text = "Start of the first line. " + "filler " * 200 + "\n" + "word " * 300 + "FARAWAY answer here.\n"
    app = _app_on_unwrapped_lines(text, tiny_model_dir, tmp_path, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        view = document_view(app)
        assert not view.soft_wrap
        far = text.index("FARAWAY")
        view.highlight(far, far + len("FARAWAY"))
        await pilot.pause()
        assert view.scroll_x > 0 and "FARAWAY" in screen_text(app)
        view.highlight(0, len("Start"))
        await pilot.pause()
        assert view.scroll_x == 0 and "Start of the first line" in screen_text(app)
        view.scroll_to(x=400, animate=False)
        await pilot.resize_terminal(100, 30)
        await wait_until(pilot, lambda: view.scroll_x == 0, timeout=10)


async def test_an_answer_over_two_unwrapped_lines_is_shown_from_its_start(tiny_model_dir, tmp_path, monkeypatch):
    """An answer that starts near one line's start and ends far along the next is shown from its start: its first
    words, not the end of its last line."""
    text = "Intro line.\n" * 3 + "The BEGINNING of the answer\n" + "word " * 30 + "and its END.\n" + "tail\n" * 50
    app = _app_on_unwrapped_lines(text, tiny_model_dir, tmp_path, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        view = document_view(app)
        start, end = text.index("BEGINNING"), text.index("END.") + 3
        view.highlight(start, end)
        await wait_until(pilot, lambda: "The BEGINNING" in screen_text(app), timeout=10)
        await pilot.pause()
        assert view.scroll_x == 0 and "The BEGINNING" in screen_text(app)


async def test_the_answer_highlight_stands_out_in_every_theme_on_a_256_colour_terminal():
    """Rounded to the 256-colour palette, the highlight and the text's background stay far apart in every theme
    (the ANSI themes highlight in reverse video)."""
    from rich.color import ColorSystem

    def rgb_256(color) -> tuple[int, int, int]:
        return tuple(color.downgrade(ColorSystem.EIGHT_BIT).get_truecolor())

    app = AssistantApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("escape")
        view = app.chat.query_one(DocumentView)
        for theme in sorted(t for t in app.available_themes if not t.startswith("ansi")):
            app.theme = theme
            await pilot.pause()
            highlight = rgb_256(view.get_component_rich_style("text-area--selection").bgcolor)
            background = rgb_256(view.background_colors[1].rich_color)
            distance = sum((a - b) ** 2 for a, b in zip(highlight, background, strict=True)) ** 0.5
            assert distance >= 50, f"{theme}: highlight {highlight} on {background}"


async def test_the_document_takes_less_keys_when_it_has_the_focus(tiny_model_dir, tmp_path):
    long = tmp_path / "rows.txt"
    long.write_text("".join(f"row {n} holds a needle\n" if n in (40, 90) else f"row {n}\n" for n in range(1, 201)))
    app = AssistantApp(document_path=long, model=str(tiny_model_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        view = document_view(app)
        view.focus()
        await pilot.press("G")
        assert view.cursor_location[0] + 1 == 200 == view.line_count  # the last row, "row 200": no empty line after
        await pilot.press("g", "j", "j", "k")
        assert view.cursor_location == (1, 0)
        await pilot.press("ctrl+d")
        half = view.cursor_location[0] - 1
        assert half >= 4 and view.scroll_y > 0
        await pilot.press("ctrl+u")
        assert view.cursor_location[0] == 1
        await pilot.press("slash")
        assert isinstance(app.focused, Input) and app.focused.id == "find-input"
        await pilot.press(*"needle", "escape")
        assert app.focused is view and view.cursor_location[0] == 39
        await pilot.press("n")
        assert view.cursor_location[0] == 89
        await pilot.press("N")
        assert view.cursor_location[0] == 39
