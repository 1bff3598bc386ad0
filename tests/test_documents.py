"""Loading documents: encodings, newlines, and one clear sentence for each kind of bad input."""

from __future__ import annotations

import os

import pytest

from assistant.core.documents import load_document
from assistant.core.errors import DocumentError


def test_utf8_text_matches_python_text_mode(tmp_path):
    p = tmp_path / "doc.md"
    p.write_bytes("\ufeffCafé — naïve 日本\r\nline two\rline three\n".encode())
    doc = load_document(p)
    with open(p, encoding="utf-8") as fh:
        assert doc.text == fh.read()
    assert doc.line_of(doc.text.index("line three")) == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Größe café".encode("latin-1"), "Größe café"),
        ("“quoted” – dash €".encode("cp1252"), "“quoted” – dash €"),
        ("UTF-16 text, ok\n".encode("utf-16"), "UTF-16 text, ok\n"),
    ],
)
def test_other_encodings_fall_back(tmp_path, raw, expected):
    p = tmp_path / "doc.txt"
    p.write_bytes(raw)
    assert load_document(p).text == expected


def _message(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.endswith((".", ")")), text
    return text


def test_missing_path(tmp_path):
    with pytest.raises(DocumentError) as exc:
        load_document(tmp_path / "nope.txt")
    assert "No such file" in _message(exc)


def test_directory(tmp_path):
    with pytest.raises(DocumentError) as exc:
        load_document(tmp_path)
    assert "directory" in _message(exc)


def test_binary(tmp_path):
    p = tmp_path / "img.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DocumentError) as exc:
        load_document(p)
    assert "binary" in _message(exc)


def test_empty(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("  \n\n ")
    with pytest.raises(DocumentError) as exc:
        load_document(p)
    assert "empty" in _message(exc)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable(tmp_path):
    p = tmp_path / "secret.txt"
    p.write_text("hidden")
    p.chmod(0)
    with pytest.raises(DocumentError) as exc:
        load_document(p)
    assert "Permission" in _message(exc)


def test_unreadable_even_as_root(tmp_path, monkeypatch):
    p = tmp_path / "secret.txt"
    p.write_text("hidden")

    real_open = os.open

    def deny(path, *args, **kwargs):
        if str(path) == str(p):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(DocumentError) as exc:
        load_document(p)
    assert "Permission denied" in _message(exc)


def test_size_limit_is_configurable(tmp_path, monkeypatch):
    p = tmp_path / "big.txt"
    p.write_text("word " * 1000)
    with pytest.raises(DocumentError) as exc:
        load_document(p, max_bytes=100)
    assert "limit" in _message(exc)
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", "100")
    with pytest.raises(DocumentError):
        load_document(p)
    monkeypatch.setenv("ASSISTANT_MAX_DOCUMENT_BYTES", "100000")
    assert load_document(p).text.startswith("word")
