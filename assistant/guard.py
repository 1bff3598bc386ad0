"""The guard of every command: any failure becomes one line on stderr and a non-zero exit.

A ``UserError``'s message is shown as is; anything else that escapes a command is reported in one
line too (``ASSISTANT_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from assistant.core import sanitize
from assistant.core.errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_INTERRUPTED = 130


def one_line(text: str, limit: int = 600) -> str:
    """Collapse a message to one line so that stderr always holds exactly one line per failure; a path or a question
    quoted in it reaches the terminal as text (control characters shown, never obeyed)."""
    flat = " ".join(sanitize.one_line(str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def print_error(message: str) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (with a pointer to --help) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        print_error(f"{self.prog}: {message} (see `{self.prog} --help`).")
        raise SystemExit(EXIT_USER_ERROR)

    def parse_args(  # type: ignore[override]  # the one signature this program calls
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's, but words left over are refused by the command they were given to (argparse's own pointed
        to the top-level help, where that command's flags are not listed)."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self._chosen(parsed).error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed

    def _chosen(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The innermost command ``parsed`` went to (this parser when it has none)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                if isinstance(chosen, OneLineArgumentParser):
                    return chosen._chosen(parsed)
        return self


ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENAMETOOLONG, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ELOOP, errno.EIO}
)
"""What the user's machine refuses (a name too long, a full or read-only disk, a permission): one sentence, never
reported as a bug."""


def environment_problem(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}."


def run_guarded(fn: Callable[[], int]) -> int:
    """Run a command; every failure ends as one line on stderr and a non-zero exit code.

    Standard output is flushed inside, so that a full disk or a closed pipe there is reported here too."""
    try:
        code = fn()
        sys.stdout.flush()
        return code
    except UserError as exc:
        print_error(str(exc))
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            return _unexpected(exc)
        with contextlib.suppress(OSError):  # what could not be written is dropped, so exit does not retry it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print_error(environment_problem(exc))
        return EXIT_USER_ERROR
    except MemoryError:
        print_error("Out of memory; try a smaller input.")
        return EXIT_INTERNAL_ERROR
    except Exception as exc:  # the last line of defence: no traceback for users
        return _unexpected(exc)


def _unexpected(exc: Exception) -> int:
    if os.environ.get("ASSISTANT_DEBUG"):
        raise exc
    name = type(exc).__name__
    print_error(f"unexpected {name}: {exc} (a bug: please report it; ASSISTANT_DEBUG=1 shows the traceback)")
    return EXIT_INTERNAL_ERROR
