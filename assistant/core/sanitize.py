"""Text that came from outside (documents, file and run names, questions, error messages quoting them), made
safe to show in a terminal.

A terminal obeys control characters: ESC starts sequences that clear the screen, reset the terminal, set the
window title or write the clipboard (OSC 52); bidi overrides display text reversed. Every such character is
replaced by one visible stand-in (ESC becomes ␛; a noncharacter such as U+FFFE, whose width terminals disagree
on, becomes U+FFFD), so the text keeps its length and every offset into it (answer
spans, highlights) still points at the same place. Lone surrogates (undecodable bytes in a file name) become
U+FFFD, which every terminal encoding can write.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.core.files import json_text

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Embeddings, overrides and isolates (the "Trojan Source" set): they reorder what follows them."""
REPLACEMENT = "\ufffd"
NONCHARACTERS = [*range(0xFDD0, 0xFDF0), *(plane * 0x10000 + end for plane in range(17) for end in (0xFFFE, 0xFFFF))]
"""Never meant for interchange; terminals disagree on their width, which shifts every cell after them."""


def _table(keep: str) -> dict[int, str]:
    table = {c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in keep}  # control pictures: ␀ … ␟
    table[0x7F] = "\u2421"  # ␡
    table.update({c: REPLACEMENT for c in range(0x80, 0xA0)})  # C1 controls (CSI, OSC, NEL...)
    table.update({ord(c): REPLACEMENT for c in BIDI_CONTROLS})
    table.update(dict.fromkeys(NONCHARACTERS, REPLACEMENT))
    return table


_KEEP_LAYOUT = _table("\n\t")
_ONE_LINE = _table("") | {0x0A: " ", 0x09: " ", 0x2028: " ", 0x2029: " "}


def _no_surrogates(text: str) -> str:
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def visible(text: str) -> str:
    """``text`` with every control, bidi-control and surrogate character replaced one for one (newlines and tabs
    kept): the same length, so offsets into it still hold."""
    return _no_surrogates(str(text).translate(_KEEP_LAYOUT))


def one_line(text: str) -> str:
    """:func:`visible`, with line breaks and tabs as spaces too: for names, titles and single-line fields."""
    return _no_surrogates(str(text).translate(_ONE_LINE))


def is_visible(text: str) -> bool:
    """Whether ``text`` is already safe to show (what :func:`visible` would leave unchanged)."""
    return visible(text) == text


_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f\u2028\u2029\ud800-\udfff{BIDI_CONTROLS}{''.join(map(chr, NONCHARACTERS))}]")


def json_for_terminal(data: Any, indent: int | None = None) -> str:
    """JSON text of ``data`` that a terminal shows as it is: what JSON leaves raw but a terminal would obey (C1
    controls, bidi controls) or some readers take for a line break (U+2028, U+2029, U+0085) is ``\\uXXXX``-escaped,
    which is the same JSON value. NaN and infinities are refused (ValueError), as by every JSON writer here."""
    return _UNSAFE_IN_JSON.sub(_escaped, json_text(data, indent=indent))


def _escaped(match: re.Match[str]) -> str:
    """A character as JSON writes it escaped: past the first plane, as its UTF-16 surrogate pair."""
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
