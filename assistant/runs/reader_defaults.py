"""What a trained run brings to answering besides its weights: the no-answer threshold its evaluation chose.

A SQuAD 2.0 run's final evaluation picks the no-answer probability above which saying "no answer" scores best
(``best_f1_thresh``, as the official v2 script picks it) and saves it in ``metrics.json``. The reader answers with it
by default: "no answer" wins when the no-answer probability, ``sigmoid(null - best)`` as the evaluation computes it,
is above that threshold, i.e. when the null span's score beats the best answer's by more than its logit.
"""

from __future__ import annotations

import math
from dataclasses import replace

from assistant.core import files
from assistant.core.engine import EngineSettings
from assistant.runs.schema import RunMetrics, is_number, read_json_object

THRESHOLD_KEY = "best_f1_thresh"
_PROBABILITY_FLOOR = 1e-6
"""A threshold of 0 or 1 (every question unanswerable, or none) is kept finite: ±13.8 in score."""


def no_answer_threshold(model: str) -> float | None:
    """The best-F1 no-answer probability saved with the run at ``model`` (a run folder), if it has one."""
    final = RunMetrics.from_json(read_json_object(files.user_path(model) / "metrics.json")).eval
    value = final.more.get(THRESHOLD_KEY) if final is not None else None
    return float(value) if is_number(value) and 0.0 <= float(value) <= 1.0 else None


def reader_defaults(model: str, base: EngineSettings | None = None) -> EngineSettings:
    """``base`` with the null span's margin that the run's threshold stands for (unchanged without one)."""
    base = base or EngineSettings()
    threshold = no_answer_threshold(model)
    if threshold is None:
        return base
    p = min(max(threshold, _PROBABILITY_FLOOR), 1.0 - _PROBABILITY_FLOOR)
    return replace(base, decode=replace(base.decode, null_threshold=math.log(p / (1.0 - p))))
