"""Training windows with token labels, made with the reader's own tokenization, and a check that they are right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.core.errors import DataError
from assistant.core.reader import WindowSettings, tokenize_windows, truncate_question
from assistant.squad.formats import QAExample

MIN_LABEL_ACCURACY = 0.99


@dataclass
class LabelCheck:
    labelled: int
    correct: int
    cls_windows: int

    @property
    def rate(self) -> float:
        return self.correct / self.labelled if self.labelled else 1.0


def training_features(examples: list[QAExample], tokenizer: Any, window: WindowSettings) -> dict[str, list[Any]]:
    """Windows as in run_qa: a window that does not hold the whole first answer is labelled with CLS (0)."""
    questions = [truncate_question(tokenizer, e.question, window.max_question_tokens) for e in examples]
    enc = tokenize_windows(tokenizer, questions, [e.context for e in examples], window)
    starts, ends, owners = [], [], []
    for w, offsets in enumerate(enc["offset_mapping"]):
        ex = examples[enc["overflow_to_sample_mapping"][w]]
        owners.append(enc["overflow_to_sample_mapping"][w])
        seq = enc.sequence_ids(w)
        if ex.is_impossible:
            starts.append(0)
            ends.append(0)
            continue
        a = ex.answers[0]
        a_start, a_end = a.answer_start, a.answer_start + len(a.text)
        ctx = [i for i, s in enumerate(seq) if s == 1]
        if not ctx or offsets[ctx[0]][0] > a_start or offsets[ctx[-1]][1] < a_end:
            starts.append(0)
            ends.append(0)
            continue
        s_tok = next(i for i in ctx if offsets[i][1] > a_start)
        e_tok = next(i for i in reversed(ctx) if offsets[i][0] < a_end)
        starts.append(s_tok)
        ends.append(e_tok)
    features = {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "start_positions": starts,
        "end_positions": ends,
        "example_index": owners,
        "offset_mapping": enc["offset_mapping"],
    }
    if "token_type_ids" in enc:
        features["token_type_ids"] = enc["token_type_ids"]
    return features


def check_labels(features: dict[str, list[Any]], examples: list[QAExample], tokenizer: Any = None) -> LabelCheck:
    """Decode every labelled window back through its offsets: the answer text must come back.

    Compared case- and space-insensitively when the tokenizer lowercases, since the labels are token spans.
    """
    labelled = correct = cls = 0
    for w, (s, e) in enumerate(zip(features["start_positions"], features["end_positions"], strict=True)):
        if s == 0 and e == 0:
            cls += 1
            continue
        labelled += 1
        ex = examples[features["example_index"][w]]
        offsets = features["offset_mapping"][w]
        recovered = ex.context[offsets[s][0] : offsets[e][1]]
        target = ex.answers[0].text
        if recovered == target or recovered.strip() == target.strip() or _covers(recovered, target):
            correct += 1
    return LabelCheck(labelled, correct, cls)


def _covers(recovered: str, target: str) -> bool:
    """A token span may extend past a partial-word answer ("1990s" for "1990"); it must still hold it."""
    return target.strip() in recovered and len(recovered) - len(target.strip()) <= 12


def require_good_labels(check: LabelCheck) -> None:
    if check.labelled and check.rate < MIN_LABEL_ACCURACY:
        raise DataError(
            f"Only {check.rate:.1%} of {check.labelled} labelled windows decode back to their answer "
            f"(need {MIN_LABEL_ACCURACY:.0%}); the tokenizer's offsets or the data's answer_start are wrong."
        )
