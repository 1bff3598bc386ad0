"""Terminal assistant that answers questions about text documents with an extractive reader."""

__version__ = "0.1.0"
