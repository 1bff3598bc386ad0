"""The one XML parser: it never loads a DTD, never declares or expands an entity and never fetches anything.

DOCX parts and EPUB's container and package files are XML; a hostile one can hold a "billion laughs" (entities
that expand exponentially) or an external entity naming ``file:///etc/passwd`` or a URL (XXE). Expat is told
not to read external DTDs, and any DOCTYPE with an internal subset, any entity declaration and any external
entity reference ends the parse with one sentence. Element names come without their namespace prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.parsers import expat

from assistant.core.errors import DocumentError

StartHandler = Callable[[str, dict[str, str]], None]
EndHandler = Callable[[str], None]
TextHandler = Callable[[str], None]


class _Refused(Exception):
    pass


def _refuse(*_: object) -> int:
    raise _Refused


def local_name(name: str) -> str:
    """``w:p`` -> ``p``: the parts read here use fixed prefixes, so the local name says what an element is."""
    return name.rpartition(":")[2]


def _doctype(_name: str, _sysid: str | None, _pubid: str | None, has_internal_subset: int) -> None:
    if has_internal_subset:
        raise _Refused


def parse(data: bytes, where: str, start: StartHandler, end: EndHandler, text: TextHandler) -> None:
    """Feed ``data`` to the handlers (names without prefixes), or raise DocumentError naming ``where``."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _doctype
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.StartElementHandler = lambda name, attrs: start(
        local_name(name), {local_name(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda name: end(local_name(name))
    parser.CharacterDataHandler = text
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except _Refused:
        raise DocumentError(
            f"{where} declares XML entities or a DTD, which are never read (they can expand without end or read "
            "other files)."
        ) from None
    except expat.ExpatError as exc:
        raise DocumentError(
            f"{where} is damaged: its XML is {expat.ErrorString(exc.code)} at line {exc.lineno}."
        ) from None
