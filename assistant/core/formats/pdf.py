"""PDF (its text layer), page by page with PDFium: each page's text is a block that knows its page number.

pypdfium2 (Apache-2.0/BSD, PDFium's own build, no other dependency) was measured against pypdf for this: the same
text on the pages compared, about ten times faster (README, "Documents and folders"). PDFium runs in a process of
its own under a memory limit (:mod:`.pdf_pages`): a decompression bomb or a crash ends that process, never the
assistant. A password-protected PDF, one with no text layer (a scan) and a damaged one are each one sentence.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

from assistant.core.errors import DocumentError, PasswordNeeded
from assistant.core.formats.base import Extracted, Request, TextBuilder

MEMORY_BASE = 512 << 20
"""The PDF process's address space: this much, plus three times the file (PDFium holds it and its own copy)."""
CEILING = MEMORY_BASE + 3 * (4 << 30)
"""Its hard limit: what the largest file a document may be (4 GiB: four times the largest text cap) would get."""


class _PdfProcess:
    """One PDF process, reading the PDFs it is given one after another."""

    def __init__(self) -> None:
        self.ready = True
        """Between PDFs: it has sent the end of the last one it was given (so it may be given another)."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assistant.core.formats.pdf_pages", str(CEILING)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, raw: bytes, password: str | None) -> bool:
        """Give it a PDF; False when it has died (it is then not used again)."""
        header = {"size": len(raw), "password": password, "memory": MEMORY_BASE + 3 * len(raw)}
        assert self.process.stdin is not None
        self.ready = False
        try:
            self.process.stdin.write(json.dumps(header).encode() + b"\n" + raw)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def records(self) -> Iterator[dict[str, Any]]:
        """What it sends about the PDF given last, up to its end (an error or "done")."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            record: dict[str, Any] = json.loads(line)
            if "error" in record or "done" in record:
                self.ready = True
                yield record
                return
            yield record

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


_IDLE: list[_PdfProcess] = []
_LOCK = threading.Lock()


@contextlib.contextmanager
def _pdf_process() -> Iterator[_PdfProcess]:
    """An idle PDF process (or a new one), given back when the PDF was read to its end and stopped otherwise."""
    with _LOCK:
        worker = _IDLE.pop() if _IDLE else _PdfProcess()
    try:
        yield worker
    finally:
        if worker.ready and worker.process.poll() is None:
            with _LOCK:
                _IDLE.append(worker)
        else:  # stopped in the middle of a PDF (a cap, a cancel) or dead: not used again
            worker.stop()


@atexit.register
def _stop_idle() -> None:
    """Idle PDF processes end with the assistant (they would on their own, at the end of their input)."""
    while _IDLE:
        _IDLE.pop().stop()


def _refusal(record: dict[str, Any], request: Request) -> DocumentError:
    if record.get("error") == "password":
        if request.password:
            return PasswordNeeded(
                f"{request.path} is password-protected and the password given does not open it.", wrong=True
            )
        return PasswordNeeded(f"{request.path} is password-protected; give its password with --password to read it.")
    return DocumentError(f"{request.path} is a damaged or truncated PDF (PDFium cannot open it).")


def _died(request: Request) -> DocumentError:
    return DocumentError(
        f"{request.path} could not be read: PDFium needed more memory than a PDF of its size may take "
        "(a decompression bomb?) or failed on it."
    )


def _pages(worker: _PdfProcess, raw: bytes, request: Request) -> Iterator[tuple[int, str]]:
    """(pages in all, one page's text), page after page."""
    # A password typed with a byte that is not UTF-8 arrives as a lone surrogate; PDFium takes UTF-8, so that byte
    # becomes U+FFFD (and the password does not open the file: one sentence, never an encoding error).
    password = None if request.password is None else request.password.encode("utf-8", "replace").decode("utf-8")
    if not worker.send(raw, password):
        worker.stop()
        raise _died(request)
    pages = 0
    for record in worker.records():
        request.check_cancel()
        if "error" in record:
            raise _refusal(record, request)
        if "done" in record:
            return
        if "pages" in record:
            pages = int(record["pages"])
        else:
            yield pages, str(record["text"])
    worker.stop()  # it ended before the PDF did
    raise _died(request)


SOFT_HYPHEN_BREAK = "\ufffe"
"""What PDFium puts where a word was hyphenated across a line end (the line break removed): the word is joined."""


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace(SOFT_HYPHEN_BREAK, "")


class PdfLoader:
    name = "PDF"
    suffixes = (".pdf",)

    def sniff(self, raw: bytes) -> bool:
        return b"%PDF-" in raw[:1024]

    def extract(self, raw: bytes, request: Request) -> Extracted:
        builder = TextBuilder(request, self.name)
        with _pdf_process() as worker:
            for number, (pages, text) in enumerate(_pages(worker, raw, request), start=1):
                if request.progress and number % 20 == 1:
                    request.progress(f"page {number:,} of {pages:,}", (number - 1) / max(pages, 1))
                builder.page_starts(number)
                builder.block(_clean(text))
        if not builder.parts:
            raise DocumentError(
                f"{request.path} has no text layer (a scanned PDF?); reading text from images (OCR) is not supported."
            )
        return builder.build()
