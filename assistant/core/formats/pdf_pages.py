"""The PDF reader's own process: PDFium reads the file here, under a memory limit, and sends the text page by page.

PDFium inflates a page's content streams whole, and a 1 MB PDF can hold a stream that inflates to gigabytes; it
is C++, and a hostile file could crash it. In a process of its own, with its address space limited, either ends
that process, never the assistant: the parent reads what it sent and says in one sentence what went wrong.

Protocol: stdin is one JSON line (``{"password": ..., "memory": bytes}``), then the PDF's bytes. stdout is JSON
lines: ``{"pages": N}``, then ``{"text": ...}`` for each page, or one ``{"error": "password" | "damaged"}``.
"""

from __future__ import annotations

import json
import resource
import sys


def _send(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def _page_text(pdf: object, index: int) -> str:
    page = pdf[index]  # type: ignore[index]
    try:
        textpage = page.get_textpage()
        try:
            text: str = textpage.get_text_range()
        finally:
            textpage.close()
    finally:
        page.close()
    return text


def main() -> int:
    header = json.loads(sys.stdin.buffer.readline())
    memory = int(header["memory"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    raw = sys.stdin.buffer.read()
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(raw, password=header.get("password"))
    except pdfium.PdfiumError as exc:
        _send({"error": "password" if "password" in str(exc).lower() else "damaged"})
        return 0
    _send({"pages": len(pdf)})
    for index in range(len(pdf)):
        _send({"text": _page_text(pdf, index)})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MemoryError:
        sys.exit(3)
