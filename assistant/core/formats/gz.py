"""gzip-compressed files (man pages, changelogs, ``notes.txt.gz``): inflated with the text cap, then read as
whatever they hold (the name without ``.gz`` and the content decide, as for any file)."""

from __future__ import annotations

from dataclasses import replace

from assistant.core.formats.archives import gunzip
from assistant.core.formats.base import Extracted, Request


class GzipLoader:
    name = "gzip"
    suffixes = (".gz",)

    def sniff(self, raw: bytes) -> bool:
        return raw.startswith(b"\x1f\x8b")

    def extract(self, raw: bytes, request: Request) -> Extracted:
        from assistant.core.formats.registry import extract_inner

        inner = gunzip(raw, request.path, request.text_cap)
        inside = replace(request, path=request.path.with_suffix("") if request.path.suffix else request.path)
        extracted = extract_inner(inner, inside, outer=request.path)
        return replace(extracted, format=f"{extracted.format} (gzip)")
