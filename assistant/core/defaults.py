"""The hub ids used when the user names none: the reader, the base to fine-tune and the training data."""

DEFAULT_READER = "distilbert/distilbert-base-uncased-distilled-squad"
DEFAULT_BASE = "distilbert/distilbert-base-uncased"
DEFAULT_DATASET = "rajpurkar/squad"
