"""`python -m trainer.metrics DATA.json PREDS.json [--na-prob NA.json]`: the official SQuAD scoring, offline.

It reads an official-format dataset and an ``{id: answer}`` predictions file and prints
``{"exact_match": ..., "f1": ...}`` at full precision, as the official evaluation script does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.core.sanitize import json_for_terminal
from assistant.guard import OneLineArgumentParser, run_guarded
from assistant.squad.metric import score_files


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="python -m trainer.metrics", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="official SQuAD v1.1/v2.0 JSON")
    parser.add_argument("predictions", type=Path, help="JSON object {question id: predicted answer}")
    parser.add_argument("--na-prob", type=Path, help="JSON object {question id: no-answer probability} (v2.0)")
    args = parser.parse_args(argv)

    def run() -> int:
        print(json_for_terminal(score_files(args.dataset, args.predictions, args.na_prob)))
        return 0

    return run_guarded(run)


if __name__ == "__main__":
    sys.exit(main())
