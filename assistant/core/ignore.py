"""Which files of a folder are left out: ``.gitignore`` patterns with git's own meaning, and the ``--include`` /
``--exclude`` globs, which are read the same way (as ripgrep's ``-g`` globs are).

Git's rules, as ``gitignore(5)`` gives them: a pattern with a slash at its start or in its middle is anchored to
the folder of its ``.gitignore``, one without matches a name at any depth; ``*`` and ``?`` never match a slash,
``**`` matches any number of folders (none too); a trailing slash matches only folders; ``!`` brings back what an
earlier pattern left out, and the last pattern that matches decides; a backslash makes the next character plain
(``\\#``, ``\\!``, a trailing ``\\ ``). A folder left out is not looked into, so nothing inside comes back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    base: str
    """The folder of the ``.gitignore`` it came from, inside the opened folder ("" or "sub/")."""
    regex: re.Pattern[str]
    negated: bool
    only_dirs: bool

    def matches(self, rel: str, is_dir: bool) -> bool:
        if (self.only_dirs and not is_dir) or not rel.startswith(self.base):
            return False
        return self.regex.fullmatch(rel[len(self.base) :]) is not None


def _class(pattern: str, i: int) -> tuple[str, int]:
    """A ``[...]`` character class from ``pattern[i]`` (which is ``[``): its regex and the index after it."""
    j = i + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    if j >= len(pattern):
        return re.escape("["), i + 1  # no closing bracket: a plain "["
    body = pattern[i + 1 : j].replace("\\", "\\\\")
    if body[:1] in "!^":
        body = "^" + body[1:]
    return f"[{body}]", j + 1


def _translate(glob: str) -> str:
    """A wildmatch glob (no leading or trailing slash left) as a regex over slash-separated paths."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i) and (i == 0 or glob[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i) and i + 2 == len(glob) and (i == 0 or glob[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            piece, i = _class(glob, i)
            out.append(piece)
        elif c == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _trim(line: str) -> str:
    """Trailing spaces go unless the last is escaped (``\\ ``)."""
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        return stripped[:-1] + " "
    return stripped


def rule(pattern: str, base: str = "") -> Rule | None:
    """One pattern as a Rule, or None for a blank line or a comment."""
    pattern = _trim(pattern.rstrip("\r"))
    if not pattern or pattern.startswith("#"):
        return None
    negated = pattern.startswith("!")
    pattern = pattern[1:] if negated else pattern
    if pattern.startswith(("\\#", "\\!")):
        pattern = pattern[1:]
    only_dirs = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    if not pattern:
        return None
    anchored = "/" in pattern
    pattern = pattern.lstrip("/")
    regex = _translate(pattern) if anchored else "(?:.*/)?" + _translate(pattern)
    return Rule(base, re.compile(regex, re.DOTALL), negated, only_dirs)


def parse(text: str, base: str = "") -> list[Rule]:
    """A ``.gitignore``'s rules, for the folder ``base`` inside the opened folder."""
    return [r for r in (rule(line, base) for line in text.split("\n")) if r is not None]


def left_out(rules: Iterable[Rule], rel: str, is_dir: bool) -> bool:
    """Whether the last rule that matches ``rel`` leaves it out (no rule: kept)."""
    verdict = False
    for r in rules:
        if r.matches(rel, is_dir):
            verdict = not r.negated
    return verdict


def globs(patterns: Sequence[str]) -> list[Rule]:
    """``--include`` / ``--exclude`` globs as rules anchored at the opened folder (``*.pdf``: at any depth)."""
    return [r for r in (rule(p.removeprefix("./")) for p in patterns) if r is not None and not r.negated]
