"""The Textual chat app. Nothing here imports torch at import time: the window paints first."""
