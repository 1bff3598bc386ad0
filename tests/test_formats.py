"""Documents in every format a person reads: the text a user sees is exactly what answer offsets index
(`assistant text` prints it), every offset knows its page or section, and a hostile or broken file of any format
is one sentence on stderr and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.core.documents import load_document
from assistant.core.errors import DocumentError
from assistant.core.sanitize import visible
from tests.bad_inputs import assert_one_line_failure, assistant
from tests.document_files import (
    BILLION_LAUGHS,
    docx_bytes,
    docx_paragraph,
    docx_table,
    encrypted_pdf,
    epub_bytes,
    flate_bomb_pdf,
    gz_bomb,
    gz_bytes,
    pdf_bytes,
    xxe_prolog,
    zip_bomb_docx,
)

PAGES = [
    ["The museum opened in 1923 in the old harbour.", "Its first curator was Ada Lind."],
    ["The east wing holds maps of the northern coast.", "Visitors may not take photographs there."],
    ["The treasure of the museum is a silver compass kept in Lisbon until 1950."],
]
CHAPTERS = [
    ("Arrival", "<h1>The Port</h1><p>The ship reached Bergen at dawn.</p><h2>Weather</h2><p>It rained for days.</p>"),
    ("Departure", "<p>They left for Rome in the spring.</p>"),
    ("Ending", "<h1>Ending</h1><p>The story ends in Oslo.</p>"),
]
SECRET = "TOP-SECRET-7b1f"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _docx() -> bytes:
    return docx_bytes(
        docx_paragraph("Annual report", "Title")
        + docx_paragraph("The year went well.")
        + docx_paragraph("Costs", "Heading1")
        + docx_table([["item", "price"], ["tea", "3 euros"]])
        + docx_paragraph("Staff", "Heading2")
        + docx_paragraph("Nine people work here.")
    )


HTML = (
    b"<!doctype html><html><head><title>Guide</title><style>p {color: red}</style><script>var hidden = 1;</script>"
    b"</head><body><h1>Install</h1><p>Run the   <b>installer</b> twice.</p><h2>On Linux</h2>"
    b"<ul><li>apt</li><li>dnf</li></ul><pre>make  all\n  done</pre></body></html>"
)


def test_a_pdf_reads_page_by_page_and_every_offset_knows_its_page(tmp_path):
    doc = load_document(_write(tmp_path, "museum.pdf", pdf_bytes(PAGES)))
    assert doc.format == "PDF"
    for number, lines in enumerate(PAGES, start=1):
        for line in lines:
            at = doc.text.index(line)
            assert doc.place(at, at + len(line)).page == number
    assert "\n\n" in doc.text and "Ada Lind" in doc.text


def test_a_pdf_with_an_empty_page_keeps_the_numbers_of_the_pages_after_it(tmp_path):
    doc = load_document(_write(tmp_path, "gap.pdf", pdf_bytes([PAGES[0], [], PAGES[2]])))
    at = doc.text.index("silver compass")
    assert doc.place(at, at + 6).page == 3


def test_a_word_hyphenated_across_a_pdf_line_reads_whole(tmp_path):
    text = load_document(_write(tmp_path, "hyphen.pdf", pdf_bytes([["The encoding manip-", "ulation works."]]))).text
    assert "manipulation works." in text and visible(text) == text


def test_two_columns_read_one_column_after_the_other(tmp_path):
    pdf = pdf_bytes([], columns=(["Left one.", "Left two."], ["Right one.", "Right two."]))
    text = load_document(_write(tmp_path, "cols.pdf", pdf)).text
    assert text.index("Left two.") < text.index("Right one.")


def test_html_keeps_visible_text_in_blocks_with_its_heading_path(tmp_path):
    doc = load_document(_write(tmp_path, "guide.html", HTML))
    assert doc.format == "HTML"
    assert "hidden" not in doc.text and "color" not in doc.text
    assert "Run the installer twice." in doc.text and "make  all\n  done" in doc.text
    at = doc.text.index("dnf")
    assert doc.place(at, at + 3).section == "Install › On Linux"


def test_an_epub_reads_its_chapters_in_spine_order_named_by_their_titles(tmp_path):
    doc = load_document(_write(tmp_path, "book.epub", epub_bytes(CHAPTERS)))
    assert doc.format == "EPUB"
    assert doc.text.index("Bergen") < doc.text.index("Rome")
    at = doc.text.index("rained")
    assert doc.place(at, at + 6).section == "Arrival › The Port › Weather"
    at = doc.text.index("Rome")
    assert doc.place(at, at + 4).section == "Departure"
    at = doc.text.index("Oslo")
    assert doc.place(at, at + 4).section == "Ending"  # a first heading that is the chapter's title, once


def test_a_docx_reads_paragraphs_headings_and_tables(tmp_path):
    doc = load_document(_write(tmp_path, "report.docx", _docx()))
    assert doc.format == "DOCX"
    assert "item\tprice\ntea\t3 euros" in doc.text
    at = doc.text.index("Nine people")
    assert doc.place(at, at + 4).section == "Annual report › Costs › Staff"


def test_gzip_is_read_as_what_it_holds(tmp_path):
    doc = load_document(_write(tmp_path, "changes.md.gz", gz_bytes(b"# News\n\nVersion 2 adds folders.\n")))
    assert doc.format == "Markdown (gzip)" and doc.text == "# News\n\nVersion 2 adds folders.\n"
    at = doc.text.index("folders")
    assert doc.place(at, at + 7).section == "News"


def test_the_format_is_told_by_content_not_by_name(tmp_path):
    assert load_document(_write(tmp_path, "download", pdf_bytes(PAGES))).format == "PDF"
    assert load_document(_write(tmp_path, "page.txt", HTML)).format == "HTML"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("museum.pdf", pdf_bytes(PAGES)),
        ("book.epub", epub_bytes(CHAPTERS)),
        ("report.docx", _docx()),
        ("guide.html", HTML),
        ("notes.txt.gz", gz_bytes("Crème brûlée\r\nline two\n".encode())),
    ],
    ids=["pdf", "epub", "docx", "html", "gz"],
)
def test_assistant_text_prints_exactly_the_text_answer_offsets_index(name, data, tmp_path, capsys):
    path = _write(tmp_path, name, data)
    outcome = assistant(capsys, "text", str(path))
    assert outcome.code == 0 and outcome.err == ""
    assert outcome.out == load_document(path).text


def test_an_answer_from_a_pdf_names_its_file_and_page(tmp_path, tiny_model_dir, capsys):
    path = _write(tmp_path, "museum.pdf", pdf_bytes(PAGES))
    outcome = assistant(
        capsys,
        "ask",
        str(path),
        "where was the compass kept?",
        "--model",
        str(tiny_model_dir),
        "--json",
        "--threshold",
        "0",
    )
    assert outcome.code == 0, outcome.err
    result = json.loads(outcome.out)
    text = assistant(capsys, "text", str(path)).out
    pages = text.split("\n\n")
    for answer in result["answers"]:
        assert text[answer["start"] : answer["end"]] == answer["text"]
        assert answer["path"] == "museum.pdf" and answer["section"] is None
        page_starts = [text.index(page) for page in pages]
        assert answer["page"] == sum(1 for s in page_starts if s <= answer["start"])
    assert result["answers"] and all(p["path"] == "museum.pdf" and p["page"] for p in result["passages"])
    shown = assistant(capsys, "ask", str(path), "where was the compass kept?", "--model", str(tiny_model_dir))
    assert "museum.pdf · page " in shown.out


# --- hostile and broken files ----------------------------------------------------------------------------------


def _planted_secret(tmp_path: Path) -> str:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    return secret.resolve().as_uri()


HOSTILE_FILES = {
    "a password-protected PDF": ("locked.pdf", lambda t: encrypted_pdf(pdf_bytes(PAGES), "pw"), "--password"),
    "a scanned PDF with no text layer": ("scan.pdf", lambda t: pdf_bytes([[], []]), "OCR"),
    "a truncated PDF": ("cut.pdf", lambda t: pdf_bytes(PAGES)[:300], "damaged"),
    "a PDF whose page inflates to 800 MB": ("bomb.pdf", lambda t: flate_bomb_pdf(800 << 20), "decompression bomb"),
    "a zip bomb as a DOCX": ("bomb.docx", lambda t: zip_bomb_docx(48 << 20), "zip bomb"),
    "a gzip bomb": ("bomb.txt.gz", lambda t: gz_bomb(48 << 20), "zip bomb"),
    "a gzip inside a gzip": ("twice.gz", lambda t: gz_bytes(gz_bytes(b"text")), "compressed twice"),
    "a truncated gzip": ("cut.txt.gz", lambda t: gz_bytes(b"some text " * 500)[:40], "damaged"),
    "a billion laughs in a DOCX": (
        "laughs.docx",
        lambda t: docx_bytes(docx_paragraph("&lol9;"), prolog=BILLION_LAUGHS),
        "entities",
    ),
    "an external entity in a DOCX": (
        "xxe.docx",
        lambda t: docx_bytes(docx_paragraph("&xxe;"), prolog=xxe_prolog(_planted_secret(t))),
        "entities",
    ),
    "an external entity in an EPUB's package": (
        "xxe.epub",
        lambda t: epub_bytes(CHAPTERS, opf_prolog=f'<!DOCTYPE package [<!ENTITY xxe SYSTEM "{_planted_secret(t)}">]>'),
        "entities",
    ),
    "a DOCX that is not a zip": (
        "broken.docx",
        lambda t: b"PK\x03\x04" + b"\0" * 64 + b"word/[Content_Types].xml",
        "damaged",
    ),
    "a PDF that is really HTML": ("renamed.pdf", lambda t: HTML, "its name says PDF, but"),
    "an EPUB with no chapters": ("empty.epub", lambda t: epub_bytes([]), "no chapters"),
    "an EPUB chapter of hidden script past the budget": (
        "hidden.epub",
        lambda t: epub_bytes([("Chapter", "<script>" + "😀" * (4 << 20) + "</script><p>Hi.</p>")]),
        "zip bomb",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_FILES, ids=list(HOSTILE_FILES))
@pytest.mark.parametrize("command", ["text", "ask"])
def test_a_hostile_or_broken_file_is_one_sentence(case, command, tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", str(4 << 20))
    name, make, fragment = HOSTILE_FILES[case]
    path = _write(tmp_path, name, make(tmp_path))
    argv = ["text", str(path)] if command == "text" else ["ask", str(path), "what?", "--model", str(tiny_model_dir)]
    outcome = assistant(capsys, *argv)
    assert_one_line_failure(outcome, fragment)
    assert SECRET not in outcome.out + outcome.err


def test_an_entity_in_html_is_never_resolved(tmp_path, capsys):
    uri = _planted_secret(tmp_path)
    page = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "{uri}">]><html><body><p>before &xxe; after</p></body></html>'
    outcome = assistant(capsys, "text", str(_write(tmp_path, "xxe.html", page.encode())))
    assert outcome.code == 0 and outcome.out == "before &xxe; after"  # nothing of the DOCTYPE shows
    assert SECRET not in outcome.out + outcome.err


def test_the_right_password_opens_a_protected_pdf_and_a_wrong_one_is_said(tmp_path, capsys):
    path = _write(tmp_path, "locked.pdf", encrypted_pdf(pdf_bytes(PAGES), "pw"))
    assert "Ada Lind" in assistant(capsys, "text", str(path), "--password", "pw").out
    assert_one_line_failure(assistant(capsys, "text", str(path), "--password", "nope"), "does not open it")


def test_a_password_with_a_byte_that_is_not_utf8_is_one_sentence(tmp_path, capsys):
    path = _write(tmp_path, "locked.pdf", encrypted_pdf(pdf_bytes(PAGES), "pw"))
    password = b"caf\xe9".decode("utf-8", "surrogateescape")  # as Python gives such an argument
    assert_one_line_failure(assistant(capsys, "text", str(path), "--password", password), "does not open it")


MARKDOWN = """\ufeff# Intro

Welcome text.

```
# not a heading
~~~
# still code
```

Setup
=====

Install it.

Linux
-----

Run make.

  ~~~
  # code again
  ~~~

### Deep ###

The end.
"""


@pytest.mark.parametrize(
    ("words", "section"),
    [
        ("Welcome text", "Intro"),
        ("still code", "Intro"),
        ("Install it", "Setup"),
        ("Run make", "Setup › Linux"),
        ("code again", "Setup › Linux"),
        ("The end", "Setup › Linux › Deep"),
    ],
)
def test_markdown_sections_follow_commonmark_headings_and_fences(words, section, tmp_path):
    doc = load_document(_write(tmp_path, "guide.md", MARKDOWN.encode()))
    at = doc.text.index(words)
    assert doc.place(at, at + len(words)).section == section


def test_the_size_cap_counts_extracted_text_not_the_file(tmp_path, monkeypatch):
    many = pdf_bytes([[f"Page {n} tells of harbour number {n} and its lighthouse."] for n in range(400)])
    path = _write(tmp_path, "long.pdf", many)
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", "8000")
    with pytest.raises(DocumentError, match="limit"):
        load_document(path)


def test_a_long_pdf_reports_progress_and_stops_when_asked(tmp_path):
    path = _write(tmp_path, "long.pdf", pdf_bytes([[f"Page {n} of a long report."] for n in range(120)]))
    seen: list[float] = []
    doc = load_document(path, progress=lambda stage, fraction: seen.append(fraction))
    assert seen == sorted(seen) and len(seen) >= 5 and doc.place(len(doc.text) - 1, len(doc.text)).page == 120
    with pytest.raises(DocumentError, match="stopped"):
        load_document(path, stopped=lambda: len(seen) > 6, progress=lambda stage, fraction: seen.append(fraction))
