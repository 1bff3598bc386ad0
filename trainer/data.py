"""A run's data: training examples (plus ``--extra-data``), the test set, validation, and the training windows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from assistant.core import files
from assistant.core.errors import UserError
from assistant.runs.config import TrainConfig
from assistant.runs.schema import DataRecord
from assistant.squad.formats import LoadedData, QAExample, load_data
from assistant.squad.validate import DataReport, require_evaluable, validate
from trainer.features import LabelCheck, check_labels, require_good_labels, training_features


def split(data: LoadedData, config: TrainConfig) -> tuple[list[QAExample], list[QAExample], str]:
    """Train examples and held-out test examples (empty when the test set comes from elsewhere).

    By default the test set is the official validation split (hub data) or ``--eval-data``, so figures
    compare with published ones; ``--resplit`` (or a local file with no ``--eval-data``) holds out
    ``test_size`` of the data with ``seed``, as the notebook did.
    """
    is_hub = not files.user_path(config.data).exists()
    if (config.eval_data or is_hub) and not config.resplit:
        return data.examples, [], data.source
    examples = list(data.examples)
    random.Random(config.seed).shuffle(examples)
    n_test = max(1, int(len(examples) * config.test_size))
    return examples[n_test:], examples[:n_test], f"{data.source} (re-split, seed {config.seed})"


@dataclass
class Examples:
    """Validated train and test examples, and where they came from (for run.json)."""

    train: list[QAExample]
    test: list[QAExample]
    version_2: bool
    train_data: LoadedData
    train_source: str
    extra: list[LoadedData]
    eval_source: str
    eval_fingerprint: str | None
    report: DataReport
    eval_report: DataReport

    def train_record(self, windows: int) -> DataRecord:
        return DataRecord(
            source=self.train_source,
            fingerprint=self.train_data.fingerprint,
            extra=[{"source": d.source, "fingerprint": d.fingerprint} for d in self.extra],
            examples=len(self.train),
            windows=windows,
        )

    def eval_record(self) -> DataRecord:
        return DataRecord(
            source=self.eval_source,
            fingerprint=self.eval_fingerprint,
            examples=len(self.test),
            version_2=self.version_2,
        )


def load_examples(config: TrainConfig, tokenizer: Any) -> Examples:
    """Training data (plus --extra-data), the test set (held out, --eval-data or the validation split), validated."""
    train_data = load_data(config.data, "train")
    extra = [load_data(p, "train") for p in config.extra_data]
    replay = load_data(config.replay_data, "train") if config.replay_data and config.replay_ratio > 0 else None
    for more in extra:
        train_data.examples.extend(more.examples)
    train, held_out, train_source = split(train_data, config)
    eval_fp: str | None
    eval_data = train_data
    if held_out:
        test, eval_source, version_2, eval_fp = held_out, train_source, train_data.version_2, None
    else:
        eval_data = load_data(config.eval_data or config.data, "validation")
        test, eval_source, version_2 = eval_data.examples, eval_data.source, eval_data.version_2
        eval_fp = eval_data.fingerprint
    if config.max_train_samples:
        train = train[: config.max_train_samples]
    if config.max_eval_samples:
        test = test[: config.max_eval_samples]
    chosen_test = test
    test, eval_report = validate(test, None, config.window)
    require_evaluable(chosen_test, eval_report, eval_data)  # before training, not after it
    train, report = validate(
        train, tokenizer, config.window, train_data.malformed, allow_unanswerable=train_data.version_2
    )
    if not train:
        raise UserError("No usable training examples are left after validation.")
    if replay is not None:
        train += replayed(replay, config, tokenizer, len(train))
    return Examples(train, test, version_2, train_data, train_source, extra, eval_source, eval_fp, report, eval_report)


def replayed(data: LoadedData, config: TrainConfig, tokenizer: Any, n_train: int) -> list[QAExample]:
    """``replay_ratio`` x ``n_train`` questions drawn (seeded) from ``data`` (``--replay-data``), validated.

    Fine-tuning a trained reader on a few dozen new questions alone moves it away from what it knew;
    mixing in questions of the data it learned from keeps it there (see ``benchmarks/annotation_forgetting.py``).
    """
    wanted = min(len(data.examples), round(config.replay_ratio * n_train))
    drawn = random.Random(config.seed).sample(data.examples, wanted)
    kept, _ = validate(drawn, tokenizer, config.window, 0, allow_unanswerable=data.version_2)
    return kept


def training_dataset(examples: list[QAExample], tokenizer: Any, config: TrainConfig) -> tuple[Any, LabelCheck]:
    """The label-checked training windows as the ``datasets.Dataset`` the Trainer reads (with a length column)."""
    import datasets

    features = training_features(examples, tokenizer, config.window)
    labels = check_labels(features, examples)
    require_good_labels(labels)
    columns = {k: v for k, v in features.items() if k not in ("offset_mapping", "example_index")}
    columns["length"] = [len(x) for x in columns["input_ids"]]
    return datasets.Dataset.from_dict(columns), labels
