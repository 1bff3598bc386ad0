"""What the Train screen checks before a run starts: the base model and the data, read as the trainer will.

A wrong data file used to fail inside the trainer once the model had loaded (40 s), and hub defaults offline
after 35 s of retries; this reads the same files with the same loaders in about a second, in a worker of the
app, and says what is wrong in one sentence. It also counts the questions the run will be evaluated on.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from assistant.core import files
from assistant.core.errors import UserError
from assistant.squad.formats import LoadedData, QAExample, load_data, plural
from assistant.squad.validate import require_evaluable, validate

if TYPE_CHECKING:  # the config imports torch: only its type is needed here
    from assistant.runs.config import TrainConfig

MIN_EVAL_QUESTIONS = 50
"""Below this, one question moves EM/F1 by 2 points or more: the figures are noise, not a measurement."""
DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
"""The files ``load_data`` reads as local SQuAD data."""


@dataclass(frozen=True)
class DataCheck:
    """The outcome of a check: a problem stops the run; a warning and the summary are shown on the form."""

    problem: str | None = None
    warning: str | None = None
    summary: str = ""
    about: Literal["base", "data"] = "data"
    """What the problem is about: the form shows it under that field."""


def is_local(source: str) -> bool:
    """Whether ``load_data`` reads ``source`` as a local file (else it is a hub dataset id)."""
    path = files.user_path(source)
    return path.exists() or path.suffix.lower() in DATA_SUFFIXES or source.startswith((".", "/", "~"))


def check_training(config: TrainConfig) -> DataCheck:
    """Whether a run with ``config`` can start: the base model is loadable and the data readable and evaluable."""
    try:
        check_base(config.base_model)
    except UserError as exc:
        return DataCheck(problem=str(exc), about="base")
    try:
        summary, eval_questions = _check_data(config)
    except UserError as exc:
        return DataCheck(problem=str(exc))
    return DataCheck(warning=few_questions_warning(eval_questions), summary=summary)


def few_questions_warning(eval_questions: int | None) -> str | None:
    """A warning when the run would be evaluated on fewer than MIN_EVAL_QUESTIONS questions (None: unknown)."""
    if eval_questions is None or eval_questions >= MIN_EVAL_QUESTIONS:
        return None
    return (
        f"Only {plural(eval_questions, 'question')} to evaluate on: EM/F1 over fewer than {MIN_EVAL_QUESTIONS} "
        "questions is mostly noise (add data, or a larger test size)."
    )


# --- the base model --------------------------------------------------------------------------------------------


def check_base(ref: str) -> None:
    """A local base must be a whole safetensors model folder; a hub id must be reachable or cached."""
    from assistant.core.model_loading import check_obtainable

    check_obtainable(ref, "start from a local model (the active reader, or a model folder)")


def offline_base() -> tuple[str | None, str]:
    """A base model that can train offline, and words that say which: the active reader, else the newest run
    that could be activated, else a hub model in the local cache; (None, why) when there is none.

    A model with random weights (assistant.core.random_model) is never offered: fine-tuned on a few
    annotations it would answer no better than chance.
    """
    from assistant.core import model_loading
    from assistant.core.defaults import DEFAULT_BASE, DEFAULT_READER
    from assistant.runs.registry import activation_problem, active_run_path, list_runs

    active = active_run_path()
    if active is not None:
        return str(active), f"the active reader ({active.name})"
    run = next((r for r in list_runs() if activation_problem(r) is None), None)
    if run is not None:
        return str(run.path), f"your run {run.name}"
    cached = next((ref for ref in (DEFAULT_BASE, DEFAULT_READER) if model_loading.hub_model_cached(ref)), None)
    if cached is not None:
        return cached, f"{cached} (in the local cache)"
    return None, (
        "No base model can be loaded offline (no trained run, nothing in the hub cache): type the path of a "
        "model folder, or connect once to download one."
    )


def hub_dataset_cached(name: str) -> bool:
    """Whether the hub dataset ``name`` is in the hub or datasets cache (so it may load offline)."""
    from huggingface_hub import constants

    datasets_cache = Path(os.environ.get("HF_DATASETS_CACHE") or Path(constants.HF_HOME) / "datasets")
    hub = Path(constants.HF_HUB_CACHE) / f"datasets--{name.replace('/', '--')}"
    return hub.is_dir() or (datasets_cache / name.replace("/", "___")).is_dir()


def _require_hub_dataset(name: str) -> None:
    from assistant.core.model_loading import hub_reachable

    if not hub_reachable() and not hub_dataset_cached(name):
        raise UserError(
            f"The hub cannot be reached and the dataset {name} is not in the local cache; pick a local SQuAD "
            "JSON/CSV file or your annotations."
        )


# --- the data --------------------------------------------------------------------------------------------------


def _check_data(config: TrainConfig) -> tuple[str, int | None]:
    """A summary of the data and the number of questions the run is evaluated on (None: unknown, the hub's)."""
    extra = [load_data(path, "train") for path in config.extra_data]
    if not is_local(config.data):
        _require_hub_dataset(config.data)
        eval_source = config.eval_data or config.data
        evaluated = _evaluated_on(eval_source, config) if not config.resplit else None
        return f"{config.data} from the hub, evaluated on {_eval_name(eval_source, config)}", evaluated
    data = load_data(config.data, "train")
    examples = data.examples + [e for more in extra for e in more.examples]
    if config.eval_data and not config.resplit:
        _require_train(examples[: config.max_train_samples], data, 0)
        evaluated = _evaluated_on(config.eval_data, config)
        return f"{plural(len(examples), 'question')} to train on, evaluated on {Path(config.eval_data).name}", evaluated
    train, test = held_out(examples, config)
    _require_train(train, data, len(test))
    evaluated = _require_eval(test, data)
    return f"{plural(len(examples), 'question')}: {len(train)} to train on, {evaluated} to evaluate", evaluated


def _eval_name(source: str, config: TrainConfig) -> str:
    if config.resplit:
        return "a held-out part"
    return Path(source).name if is_local(source) else f"the validation split of {source}"


def _evaluated_on(source: str, config: TrainConfig) -> int | None:
    """The test questions in ``source`` (a local file, checked); a hub split's are not counted (None) unless
    ``max_eval_samples`` caps them."""
    if not is_local(source):
        _require_hub_dataset(source)
        return config.max_eval_samples
    data = load_data(source, "validation")
    return _require_eval(data.examples[: config.max_eval_samples], data)


def held_out(examples: list[QAExample], config: TrainConfig) -> tuple[list[QAExample], list[QAExample]]:
    """The train and test examples as the trainer splits a local file: ``test_size`` held out, shuffled by seed."""
    shuffled = list(examples)
    random.Random(config.seed).shuffle(shuffled)
    n_test = max(1, int(len(shuffled) * config.test_size))
    return shuffled[n_test:][: config.max_train_samples], shuffled[:n_test][: config.max_eval_samples]


def _require_train(train: list[QAExample], data: LoadedData, held: int) -> None:
    """At least one question to train on, or one sentence saying how many there are and how many a run needs."""
    if not train:
        raise UserError(
            f"{data.source}: with {plural(held, 'question')} held out to evaluate, none is left to train on; a run "
            f"needs at least 2 questions (one to train on, one to evaluate), and {MIN_EVAL_QUESTIONS} or more to "
            "evaluate for figures worth reading."
        )
    kept, report = validate(train, allow_unanswerable=data.version_2)
    if not kept:
        raise UserError(
            f"{data.source}: none of its {plural(len(train), 'training question')} is usable "
            f"({report.examples_dropped} dropped because their answer is not in their context); "
            "a run needs at least one whose answer is found in its context."
        )


def _require_eval(test: list[QAExample], data: LoadedData) -> int:
    """The number of test questions left after validation; none (or only unanswerable ones) is a DataError."""
    kept, report = validate(test)
    require_evaluable(test, report, data)
    return len(kept)
