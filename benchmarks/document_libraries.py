"""Side by side: the libraries that could read PDF and HTML for the assistant, on the same files.

    python benchmarks/document_libraries.py [PDF ...]

PDF: pypdfium2 (what the assistant uses) against pypdf, on the PDFs given (e.g. the ones Debian ships in
/usr/share/doc) and on a generated two-column page (reading order). HTML: the standard library's tokenizer
(what the assistant uses, through its loader) against BeautifulSoup with lxml and selectolax, on a generated
page of headings, paragraphs, lists, tables and scripts. The alternatives are imported only if installed
(`pip install pypdf beautifulsoup4 lxml selectolax`); each figure is the median of 5 runs after one warm-up.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.bench import synthetic_document
from assistant.core.formats.base import Request
from assistant.core.formats.html import HtmlLoader
from tests.document_files import pdf_bytes

RUNS = 5


def _median_s(fn: Callable[[], object]) -> tuple[float, object]:
    result = fn()
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _pdfium(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    pdf.close()
    return pages


def _pypdf(data: bytes) -> list[str]:
    import io

    import pypdf

    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def bench_pdf(paths: list[Path]) -> None:
    columns = pdf_bytes([], columns=(["Left one.", "Left two."], ["Right one.", "Right two."]))
    print("PDF           library     pages  chars    median s   two columns in order")
    for name, data in [(p.name, p.read_bytes()) for p in paths] + [("two-column", columns)]:
        for library, read in (("pypdfium2", _pdfium), ("pypdf", _pypdf)):
            try:
                seconds, pages = _median_s(lambda read=read, data=data: read(data))  # type: ignore[misc]
            except ImportError:
                print(f"{name[:13]:13} {library:10}  (not installed)")
                continue
            text = "\n".join(pages)  # type: ignore[arg-type]
            ordered = text.find("Left two") < text.find("Right one") if "Left two" in text else ""
            print(f"{name[:13]:13} {library:10} {len(pages):6} {len(text):6} {seconds:10.3f}   {ordered}")  # type: ignore[arg-type]


def _html_page(words: int) -> str:
    paragraphs = synthetic_document(words).split("\n\n")
    body = []
    for n, paragraph in enumerate(paragraphs):
        if n % 10 == 0:
            body.append(f"<h2>Section {n // 10}</h2><script>var hidden{n} = 'SCRIPT';</script>")
        if n % 7 == 0:
            body.append(f"<table><tr><td>cell {n}</td><td>value {n}</td></tr></table><ul><li>item {n}</li></ul>")
        body.append(f"<p>{paragraph}</p>")
    return f"<!doctype html><html><head><style>p {{}}</style></head><body>{''.join(body)}</body></html>"


def bench_html(words: int = 400_000) -> None:
    page = _html_page(words)
    raw = page.encode()
    loader = HtmlLoader()

    def stdlib() -> str:
        return loader.extract(raw, Request(Path("page.html"), 1 << 30)).text

    def soup() -> str:
        from bs4 import BeautifulSoup

        tree = BeautifulSoup(page, "lxml")
        for tag in tree(["script", "style"]):
            tag.decompose()
        return str(tree.get_text("\n"))

    def lexbor() -> str:
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(page)
        for tag in tree.css("script, style"):
            tag.decompose()
        return str(tree.body.text(separator="\n") if tree.body else "")

    print(f"\nHTML page: {len(raw) / 1e6:.1f} MB")
    print("library                   median s   MB/s   chars     script text left")
    for name, fn in (("stdlib html.parser", stdlib), ("bs4 + lxml", soup), ("selectolax (lexbor)", lexbor)):
        try:
            seconds, text = _median_s(fn)
        except ImportError:
            print(f"{name:24}  (not installed)")
            continue
        print(f"{name:24} {seconds:9.3f} {len(raw) / 1e6 / seconds:6.1f} {len(text):9}   {'SCRIPT' in text}")  # type: ignore[arg-type]


if __name__ == "__main__":
    bench_pdf([Path(p) for p in sys.argv[1:]])
    bench_html()
