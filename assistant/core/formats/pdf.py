"""PDF (its text layer), page by page with PDFium: each page's text is a block that knows its page number.

pypdfium2 (Apache-2.0/BSD, PDFium's own build, no other dependency) was measured against pypdf for this: the same
text on the pages compared, about ten times faster (README, "Documents and folders"). PDFium runs in a process of
its own under a memory limit (:mod:`.pdf_pages`): a decompression bomb or a crash ends that process, never the
assistant. A password-protected PDF, one with no text layer (a scan) and a damaged one are each one sentence.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from assistant.core.errors import DocumentError, PasswordNeeded
from assistant.core.formats.base import Extracted, Request, TextBuilder

MEMORY_BASE = 512 << 20
"""The PDF process's address space: this much, plus three times the file (PDFium holds it and its own copy)."""


def _start(raw: bytes, request: Request) -> subprocess.Popen[bytes]:
    """The PDF process, given the file: it reads it under its memory limit."""
    # A password typed with a byte that is not UTF-8 arrives as a lone surrogate; PDFium takes UTF-8, so that byte
    # becomes U+FFFD (and the password does not open the file: one sentence, never an encoding error).
    password = None if request.password is None else request.password.encode("utf-8", "replace").decode("utf-8")
    header = json.dumps({"password": password, "memory": MEMORY_BASE + 3 * len(raw)}).encode() + b"\n"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.core.formats.pdf_pages"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it died reading: its exit code says why
        process.stdin.write(header + raw)
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    return process


def _refusal(record: dict[str, Any], request: Request) -> DocumentError:
    if record.get("error") == "password":
        if request.password:
            return PasswordNeeded(
                f"{request.path} is password-protected and the password given does not open it.", wrong=True
            )
        return PasswordNeeded(f"{request.path} is password-protected; give its password with --password to read it.")
    return DocumentError(f"{request.path} is a damaged or truncated PDF (PDFium cannot open it).")


def _pages(process: subprocess.Popen[bytes], request: Request) -> Iterator[tuple[int, str]]:
    """(pages in all, one page's text), as the PDF process sends them, page after page."""
    assert process.stdout is not None
    pages = 0
    for line in process.stdout:
        request.check_cancel()
        record = json.loads(line)
        if "error" in record:
            raise _refusal(record, request)
        if "pages" in record:
            pages = int(record["pages"])
        else:
            yield pages, str(record["text"])
    if process.wait() != 0:
        raise DocumentError(
            f"{request.path} could not be read: PDFium needed more memory than a PDF of its size may take "
            "(a decompression bomb?) or failed on it."
        )


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


class PdfLoader:
    name = "PDF"
    suffixes = (".pdf",)

    def sniff(self, raw: bytes) -> bool:
        return b"%PDF-" in raw[:1024]

    def extract(self, raw: bytes, request: Request) -> Extracted:
        process = _start(raw, request)
        builder = TextBuilder(request, self.name)
        try:
            for number, (pages, text) in enumerate(_pages(process, request), start=1):
                if request.progress and number % 20 == 1:
                    request.progress(f"page {number:,} of {pages:,}", (number - 1) / max(pages, 1))
                builder.place(page=number)
                builder.block(_clean(text))
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if not builder.parts:
            raise DocumentError(
                f"{request.path} has no text layer (a scanned PDF?); reading text from images (OCR) is not supported."
            )
        return builder.build()
