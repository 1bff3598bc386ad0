"""The PDF reader's own process: PDFium reads files here, under a memory limit, and sends their text page by page.

PDFium inflates a page's content streams whole, and a 1 MB PDF can hold a stream that inflates to gigabytes; it
is C++, and a hostile file could crash it. In a process of its own, with its address space limited, either ends
that process, never the assistant: the parent reads what it sent and says in one sentence what went wrong. The
process reads one PDF after another (a folder of PDFs starts it once).

Protocol, for each PDF: stdin has one JSON line (``{"size": bytes, "password": ..., "memory": bytes}``), then the
PDF's bytes; stdout gets JSON lines: ``{"pages": N}``, then ``{"text": ...}`` for each page, then ``{"done": true}``,
or one ``{"error": "password" | "damaged"}``. End of stdin ends the process.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def _send(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def _page_text(pdf: Any, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            text: str = textpage.get_text_range()
        finally:
            textpage.close()
    finally:
        page.close()
    return text


def _read_one(header: dict[str, Any]) -> None:
    import pypdfium2 as pdfium

    memory = int(header["memory"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, resource.getrlimit(resource.RLIMIT_AS)[1]))
    raw = sys.stdin.buffer.read(int(header["size"]))
    try:
        pdf = pdfium.PdfDocument(raw, password=header.get("password"))
    except pdfium.PdfiumError as exc:
        _send({"error": "password" if "password" in str(exc).lower() else "damaged"})
        return
    try:
        _send({"pages": len(pdf)})
        for index in range(len(pdf)):
            _send({"text": _page_text(pdf, index)})
    finally:
        pdf.close()
    _send({"done": True})


def main() -> int:
    ceiling = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return 0
        _read_one(json.loads(line))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MemoryError:
        sys.exit(3)
