"""A ``tokenizer.json`` read by the ``tokenizers`` library alone, called the way the reader calls a fast tokenizer.

:class:`JsonTokenizer` answers the few calls that :mod:`assistant.core.reader` makes of a Hugging Face fast
tokenizer (question pairs in sliding windows with offsets, sequence ids and word ids; plain token counts)
with the same tokens, so the CPU path reads without importing transformers. It mirrors what
``PreTrainedTokenizerFast.__call__`` does with the same backend: set truncation (or none) and no padding,
``encode_batch``, then flatten each encoding and its ``overflowing`` windows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenizers import Encoding, Tokenizer

from assistant.core import files


class Encoded:
    """The keys and methods of a ``BatchEncoding`` that the reader uses: lists per window, plus sequence/word ids."""

    def __init__(self, encodings: list[Encoding], mapping: list[int] | None, batched: bool, offsets: bool) -> None:
        self.encodings = encodings
        self._data: dict[str, Any] = {
            "input_ids": [e.ids for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
        }
        if offsets:
            self._data["offset_mapping"] = [e.offsets for e in encodings]
        if mapping is not None:
            self._data["overflow_to_sample_mapping"] = mapping
        elif not batched:  # one text, no windows: flat lists, as a fast tokenizer returns them
            self._data = {key: value[0] for key, value in self._data.items()}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> list[str]:
        return list(self._data)

    def sequence_ids(self, index: int = 0) -> list[int | None]:
        ids: list[int | None] = self.encodings[index].sequence_ids
        return ids

    def word_ids(self, index: int = 0) -> list[int | None]:
        ids: list[int | None] = self.encodings[index].word_ids
        return ids


def _special_token(config: dict[str, Any], name: str) -> str | None:
    value = config.get(name)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class JsonTokenizer:
    """A ``tokenizers.Tokenizer`` behind the subset of the fast-tokenizer call that the reader uses; thread-safe."""

    def __init__(self, tokenizer: Tokenizer, pad_token_id: int | None = None, copy: bool = True) -> None:
        # truncation is set per call below: a tokenizer someone else holds is copied first
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str()) if copy else tokenizer
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.pad_token_id = pad_token_id
        self.is_fast = True
        self._lock = threading.Lock()

    @classmethod
    def from_directory(cls, directory: Path, pad_token_id: int | None = None) -> JsonTokenizer:
        """``tokenizer.json`` of a model directory; the padding token from ``tokenizer_config.json`` if not given."""
        tokenizer = Tokenizer.from_str(files.read_text(directory / "tokenizer.json", files.TOKENIZER))
        if pad_token_id is None:
            pad_token_id = _pad_id_from_config(directory, tokenizer)
        return cls(tokenizer, pad_token_id, copy=False)

    @property
    def backend_tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def __len__(self) -> int:
        return int(self._tokenizer.get_vocab_size(with_added_tokens=True))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each text without special tokens; skips offsets, so faster than a call."""
        if not texts:
            return []
        with self._lock:
            self._tokenizer.no_truncation()
            encodings = self._tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def __call__(
        self,
        text: str | Sequence[str],
        text_pair: Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        truncation: bool | str = False,
        max_length: int | None = None,
        stride: int = 0,
        return_overflowing_tokens: bool = False,
        return_offsets_mapping: bool = False,
        padding: bool | str = False,
    ) -> Encoded:
        if padding:
            raise ValueError("JsonTokenizer does not pad; the reader pads its own batches.")
        batched = not isinstance(text, str)
        texts = list(text) if batched else [text]
        inputs: list[Any] = texts if text_pair is None else list(zip(texts, list(text_pair), strict=True))
        if not inputs:
            raise ValueError("An empty batch has nothing to tokenize.")
        with self._lock:
            if truncation:
                strategy = truncation if isinstance(truncation, str) else "longest_first"
                if max_length is None:
                    raise ValueError("Truncation needs max_length.")
                self._tokenizer.enable_truncation(max_length, stride=stride, strategy=strategy, direction="right")
            else:
                self._tokenizer.no_truncation()
            encodings = self._tokenizer.encode_batch(inputs, add_special_tokens=add_special_tokens)
        windows: list[Encoding] = []
        mapping: list[int] = []
        for sample, encoding in enumerate(encodings):
            group = [encoding, *encoding.overflowing] if return_overflowing_tokens else [encoding]
            windows.extend(group)
            mapping.extend([sample] * len(group))
        return Encoded(windows, mapping if return_overflowing_tokens else None, batched, return_offsets_mapping)


def _pad_id_from_config(directory: Path, tokenizer: Tokenizer) -> int | None:
    """The id of ``pad_token`` in ``tokenizer_config.json`` (or ``special_tokens_map.json``), else ``[PAD]``'s."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        config = files.read_json_object_or_none(directory / name)
        if config is None:
            continue
        token = _special_token(config, "pad_token")
        found = None if token is None else tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    fallback = tokenizer.token_to_id("[PAD]")
    return None if fallback is None else int(fallback)
