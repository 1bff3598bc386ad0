"""Span decoding shared by chat and evaluation: n-best spans from raw start/end logits over windows.

Follows Hugging Face's ``utils_qa.postprocess_qa_predictions``: the top-n start and end tokens of each
window are paired, spans must lie in the context, end >= start, and be at most ``max_answer_tokens``
long; raw ``start_logit + end_logit`` ranks spans so that windows (and passages) compare. Confidence
is Haystack's calibrated sigmoid, which means the same thing in every window and document.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Offset = tuple[int, int] | None


@dataclass(frozen=True)
class WindowLogits:
    """Logits of one tokenized window and where its context tokens sit in the source text."""

    start_logits: np.ndarray
    end_logits: np.ndarray
    offsets: Sequence[Offset]
    """Per token: (start, end) characters of the context relative to ``base``, or None for other tokens."""
    base: int = 0
    cls_index: int = 0
    segments: Sequence[int] | None = None
    """Per token, which packed passage it belongs to; a span never joins two passages."""
    words: Sequence[int | None] | None = None
    """Per token, the tokenizer's word index: spans widen to whole words, within ``max_answer_tokens``."""


@dataclass(frozen=True)
class Candidate:
    """A span in the source text with its raw and calibrated scores."""

    start: int
    end: int
    score: float
    start_logit: float
    end_logit: float
    confidence: float


@dataclass(frozen=True)
class DecodeSettings:
    n_best: int = 20
    max_answer_tokens: int = 30
    max_answer_chars: int = 500
    """Longer spans are dropped: one [UNK] token can stand for a whole run of text with no spaces."""
    max_snap_chars: int = 32
    """Word snapping on the text widens a side by at most this many characters."""
    calibration: float = 0.1
    """Haystack's calibration factor: confidence = sigmoid(c * (start_logit + end_logit))."""
    min_confidence: float = 0.1
    """Answers below this confidence are dropped; none left means "no answer"."""
    allow_null: bool = True
    """Let the null (CLS) span win, as SQuAD 2.0 models need; False always answers (SQuAD 1.1)."""
    null_threshold: float = 0.0
    top_k: int = 3


@dataclass(frozen=True)
class Decoded:
    answers: list[Candidate]
    """Best first, de-duplicated, above ``min_confidence``; empty when there is no answer."""
    null_score: float
    best_score: float | None
    null_won: bool
    not_finite: bool = False
    """The model's logits held NaN or infinity: a broken model, so no answer (never a NaN-scored one)."""


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def confidence(start_logit: float, end_logit: float, calibration: float) -> float:
    """Haystack's ``sigmoid(c * (start + end))``: monotone in the score answers are ranked by."""
    return _sigmoid(calibration * (start_logit + end_logit))


def window_candidates(window: WindowLogits, settings: DecodeSettings) -> list[Candidate]:
    """All valid spans of one window built from its top-n start and end tokens, unsorted."""
    is_context = np.fromiter((o is not None for o in window.offsets), dtype=bool, count=len(window.offsets))
    if not is_context.any():
        return []
    starts = np.asarray(window.start_logits, dtype=np.float64)[: len(is_context)]
    ends = np.asarray(window.end_logits, dtype=np.float64)[: len(is_context)]
    context_idx = np.flatnonzero(is_context)
    n = min(settings.n_best, len(context_idx))
    top_s = context_idx[np.argsort(-starts[context_idx], kind="stable")[:n]]
    top_e = context_idx[np.argsort(-ends[context_idx], kind="stable")[:n]]
    length = top_e[None, :] - top_s[:, None]
    valid = (length >= 0) & (length < settings.max_answer_tokens)
    if window.segments is not None:
        seg = np.asarray(window.segments)
        valid &= seg[top_s][:, None] == seg[top_e][None, :]
    rows, cols = np.nonzero(valid)
    out: list[Candidate] = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        s_tok, e_tok = int(top_s[r]), int(top_e[c])
        sl, el = float(starts[s_tok]), float(ends[e_tok])
        s_tok, e_tok = _widen_to_words(window, s_tok, e_tok, settings.max_answer_tokens)
        s_off, e_off = window.offsets[s_tok], window.offsets[e_tok]
        assert s_off is not None and e_off is not None
        if e_off[1] <= s_off[0] or e_off[1] - s_off[0] > settings.max_answer_chars:
            continue
        out.append(
            Candidate(
                start=window.base + s_off[0],
                end=window.base + e_off[1],
                score=sl + el,
                start_logit=sl,
                end_logit=el,
                confidence=confidence(sl, el, settings.calibration),
            )
        )
    return out


def _widen_to_words(window: WindowLogits, s_tok: int, e_tok: int, max_tokens: int) -> tuple[int, int]:
    """Token bounds widened to the tokenizer's whole words, unless that would pass ``max_tokens``."""
    words, offsets = window.words, window.offsets
    if words is None or words[s_tok] is None or words[e_tok] is None:
        return s_tok, e_tok
    segments = window.segments
    new_s, new_e = s_tok, e_tok
    while new_s > 0 and offsets[new_s - 1] is not None and words[new_s - 1] == words[s_tok]:
        if segments is not None and segments[new_s - 1] != segments[s_tok]:
            break
        new_s -= 1
    while new_e + 1 < len(words) and offsets[new_e + 1] is not None and words[new_e + 1] == words[e_tok]:
        if segments is not None and segments[new_e + 1] != segments[e_tok]:
            break
        new_e += 1
    return (new_s, new_e) if new_e - new_s < max_tokens else (s_tok, e_tok)


def _same_word(left: str, right: str) -> bool:
    """Whether two neighbouring characters belong to one word: letters or digits, neither a wide (CJK) character,
    which tokenizers read one by one."""
    return (
        left.isalnum()
        and right.isalnum()
        and unicodedata.east_asian_width(left) not in "WF"
        and unicodedata.east_asian_width(right) not in "WF"
    )


def snap_to_words(text: str, start: int, end: int, max_widen: int = 32) -> tuple[int, int]:
    """Widen a span to whole words (by at most ``max_widen`` characters a side) and trim whitespace.

    Windows carry the tokenizer's words already; this catches a word cut at a window's edge, and the cap
    keeps text with no spaces (CJK, one huge token) from turning an answer into the whole document.
    """
    new_start, new_end = start, end
    while 0 < new_start < len(text) and _same_word(text[new_start - 1], text[new_start]):
        new_start -= 1
    while 0 < new_end < len(text) and _same_word(text[new_end - 1], text[new_end]):
        new_end += 1
    start = new_start if start - new_start <= max_widen else start
    end = new_end if new_end - end <= max_widen else end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _finite(logits: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(logits)))


def decode(windows: Sequence[WindowLogits], text: str, settings: DecodeSettings) -> Decoded:
    """Best answers for one question over all windows it was read in.

    ``text`` is the string the windows' offsets (plus ``base``) index: the document in chat, the
    context paragraph in evaluation.
    """
    if not all(_finite(w.start_logits) and _finite(w.end_logits) for w in windows):
        return Decoded([], math.nan, None, False, not_finite=True)
    candidates: list[Candidate] = []
    null_score = math.inf
    for window in windows:
        candidates.extend(window_candidates(window, settings))
        cls = window.cls_index
        null_score = min(null_score, float(window.start_logits[cls]) + float(window.end_logits[cls]))
    candidates.sort(key=lambda c: c.score, reverse=True)
    best_score = candidates[0].score if candidates else None
    null_won = settings.allow_null and (best_score is None or null_score > best_score + settings.null_threshold)
    if null_won:
        return Decoded([], null_score, best_score, True)
    answers: list[Candidate] = []
    for cand in candidates:
        start, end = snap_to_words(text, cand.start, cand.end, settings.max_snap_chars)
        if end <= start or cand.confidence < settings.min_confidence:
            continue
        if any(start < kept.end and kept.start < end for kept in answers):
            continue
        answers.append(Candidate(start, end, cand.score, cand.start_logit, cand.end_logit, cand.confidence))
        if len(answers) >= settings.top_k:
            break
    return Decoded(answers, null_score, best_score, False)
