"""The reading engine: documents, passages, retrieval, windows, the reader model and span decoding.

A pure library: it imports no UI (textual, rich), no app module, and hands out typed answers only.
"""
