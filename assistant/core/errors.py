"""Errors a user can act on: the CLI and the TUI show their message as one sentence, never a traceback."""


class UserError(Exception):
    """A problem with the user's input or setup, explained in one sentence."""


class DocumentError(UserError):
    """The document could not be read as text."""


class PasswordNeeded(DocumentError):
    """A password-protected document, opened without its password (or with a wrong one: ``wrong``)."""

    def __init__(self, message: str, wrong: bool = False) -> None:
        super().__init__(message)
        self.wrong = wrong


class ModelUnavailableError(UserError):
    """No reader model could be loaded."""


class ReaderFailed(UserError):
    """The reader model loaded but could not run on a question (a broken or hostile model file)."""


class DataError(UserError):
    """Training or evaluation data could not be read."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type when it has none), for a one-sentence report."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).rstrip(".")[:limit]
