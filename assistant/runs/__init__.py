"""Trained runs in ``models/``: the run directory's schema and status, written by the trainer, read by the app."""
