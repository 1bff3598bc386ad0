"""HTML and XHTML: the visible text, block by block, with the heading path as each block's section.

Read with the standard library's tokenizer, which knows HTML's named character references and nothing else:
a DOCTYPE's entities are never declared, so ``&xxe;`` stays those five characters and nothing is fetched.
Script, style and other invisible elements are skipped; whitespace collapses as a browser shows it, except in
``pre``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

from assistant.core.formats.base import Extracted, Request, TextBuilder
from assistant.core.formats.text import decode_text

_HIDDEN = frozenset({"script", "style", "template", "noscript", "head", "svg", "math", "iframe", "object"})
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "aside",
        "header",
        "footer",
        "nav",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "dl",
        "figure",
        "figcaption",
        "form",
        "fieldset",
        "address",
        "hr",
        "body",
        "html",
        "title",
        "caption",
    ]
)
_LINES = frozenset(["li", "tr", "dt", "dd", "br"])
_CELLS = frozenset({"td", "th"})
_HEADING = re.compile(r"h([1-6])")
_SPACES = re.compile(r"\s+")
_VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)


class _Visible(HTMLParser):
    """Collects blocks of visible text into a TextBuilder, tracking the heading path."""

    def __init__(self, builder: TextBuilder, root: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = builder
        self.root = root
        self.hidden: list[str] = []
        self.pre = 0
        self.line: list[str] = []
        self.heading: int | None = None
        self.path: list[tuple[int, str]] = []
        builder.section_starts(root)

    def _flush(self, separator: str = "\n\n") -> None:
        text = "".join(self.line)
        self.line = []
        if not self.pre:
            text = _SPACES.sub(" ", text)
        self.builder.block(text, separator)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.hidden = []  # a head never closed ends where the body starts, as a browser reads it
        if tag in _HIDDEN and tag not in _VOID:
            self.hidden.append(tag)
            return
        if self.hidden:
            return
        level = _HEADING.fullmatch(tag)
        if level or tag in _BLOCKS:
            self._flush()
            self.heading = int(level.group(1)) if level else self.heading
            self.pre += tag == "pre"
        elif tag in _LINES:
            self._flush("\n")
        elif tag in _CELLS and self.line:
            self.line.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if self.hidden:
            if tag == self.hidden[-1]:
                self.hidden.pop()
            return
        level = _HEADING.fullmatch(tag)
        if level and self.heading is not None:
            self._heading_ends(int(level.group(1)))
        elif tag in _BLOCKS:
            self._flush()
            self.pre -= tag == "pre" and self.pre > 0
        elif tag in _LINES:
            self._flush("\n")

    def _heading_ends(self, level: int) -> None:
        title = _SPACES.sub(" ", "".join(self.line)).strip()
        kept = [(lv, t) for lv, t in self.path if lv < level]
        repeats_root = not kept and title == self.root  # a chapter whose first heading is its title
        self.path = kept + ([(level, title)] if title and not repeats_root else [])
        names = ([self.root] if self.root else []) + [t for _, t in self.path]
        self.builder.section_starts(" › ".join(names) or None)
        self._flush()
        self.heading = None

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.line.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def title_of(markup: str) -> str | None:
    """The document's ``<title>`` (a chapter's name in an EPUB), or None."""
    m = re.search(r"<title[^>]*>(.*?)</title>", markup[:65536], re.IGNORECASE | re.DOTALL)
    title = _SPACES.sub(" ", html.unescape(m.group(1))).strip() if m else ""
    return title or None


_INTERNAL_SUBSET = re.compile(r"<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.IGNORECASE | re.DOTALL)
"""A DOCTYPE with declarations inside (``<!DOCTYPE x [<!ENTITY …>]>``): the tokenizer would end it at the first
``>`` and show the rest as text; it declares nothing a browser shows, so it goes, never read."""


def read_html(pieces: Iterable[str], builder: TextBuilder, root: str | None = None) -> None:
    """Add the visible text of the markup given in ``pieces`` to ``builder``; sections start with ``root`` (a
    chapter's name). The tokenizer is fed a piece at a time: it copies what it holds at each feed."""
    parser = _Visible(builder, root)
    first = True
    for piece in pieces:
        if first and "[" in piece[:65536] and _INTERNAL_SUBSET.search(piece[:65536]):
            piece = _INTERNAL_SUBSET.sub("", piece[:65536], count=1) + piece[65536:]
        first = False
        for at in range(0, len(piece), FEED_CHARS):
            parser.feed(piece[at : at + FEED_CHARS])
    parser.close()


FEED_CHARS = 1 << 20


_SNIFF = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


class HtmlLoader:
    name = "HTML"
    suffixes = (".html", ".htm", ".xhtml")

    def sniff(self, raw: bytes) -> bool:
        head = raw[:4096].lstrip(b"\xef\xbb\xbf")
        return _SNIFF.match(head) is not None

    def extract(self, raw: bytes, request: Request) -> Extracted:
        markup, encoding = decode_text(raw)
        builder = TextBuilder(request, self.name)
        read_html([markup], builder)
        return builder.build(encoding)
