"""Measure the chat app's first paint and the longest event-loop stall while it works.

    python benchmarks/tui_responsiveness.py
    python benchmarks/tui_responsiveness.py MODEL DOCUMENT   # only: reader ready after the first paint

First paint: a fresh process launches the app (headless) and reports the time from process start to
the first refresh after mount. Stalls: a 10 ms ticker runs on the event loop while the app indexes a
130,000-word document, answers questions with a full-size DistilBERT (random weights), and runs a
short training subprocess; the longest gap between ticks, minus the 10 ms period, is the stall.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import os, sys, time
t0 = float(os.environ["LAUNCH_T0"])
from assistant.tui.app import AssistantApp
import assistant.tui.app as app_module
from pathlib import Path
class Probe(AssistantApp):
    CSS_PATH = str(Path(app_module.__file__).parent / "app.tcss")
    def on_mount(self):  # Textual also runs AssistantApp.on_mount
        self.call_after_refresh(self._painted)
    def _painted(self):
        with open(os.environ["PAINT_OUT"], "w") as fh:
            fh.write(f"{time.time() - t0:.3f}")
        self.exit()
    def load_model(self, ref):
        pass  # the model loads after the first paint; not part of this measurement
Probe().run(headless=True)
"""


READY_CHILD = """
import os, time
t0 = float(os.environ["LAUNCH_T0"])
from pathlib import Path
import assistant.tui.app as app_module
from assistant.tui.app import AssistantApp
from assistant.tui.state import ReaderStatus
class Probe(AssistantApp):
    CSS_PATH = str(Path(app_module.__file__).parent / "app.tcss")
    def on_mount(self):
        self.call_after_refresh(self._painted)
        self.set_interval(0.01, self._check)
    def _painted(self):
        self.painted = time.time() - t0
    def _check(self):
        ready = self.reader_state.status is ReaderStatus.READY and self.chat.indexed is not None
        if ready and hasattr(self, "painted"):
            Path(os.environ["PAINT_OUT"]).write_text(f"{self.painted:.3f} {time.time() - t0:.3f}")
            self.exit()
Probe(document_path=Path(os.environ["DOC"]), model=os.environ["MODEL"]).run(headless=True)
"""


def ready_after_paint(model: str, document: Path, runs: int = 5) -> list[float]:
    """Seconds from first paint until the reader is loaded and the document indexed, warm caches (a run first)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):
            target = Path(tmp) / f"ready{i}"
            env = dict(
                os.environ, LAUNCH_T0=repr(time.time()), HF_HUB_OFFLINE="1", PAINT_OUT=str(target), DOC=str(document)
            )
            env.update(MODEL=model, ASSISTANT_CACHE_DIR=f"{tmp}/cache", ASSISTANT_DATA_DIR=f"{tmp}/data")
            subprocess.run([sys.executable, "-c", READY_CHILD], capture_output=True, env=env, cwd=ROOT, timeout=300)
            painted, ready = map(float, target.read_text().split())
            if i:  # the first run exports the model and indexes the document into the caches
                out.append(ready - painted)
    return out


def first_paint(runs: int = 5) -> list[float]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            target = Path(tmp) / f"paint{i}"
            env = dict(os.environ, LAUNCH_T0=repr(time.time()), HF_HUB_OFFLINE="1", PAINT_OUT=str(target))
            subprocess.run([sys.executable, "-c", CHILD], capture_output=True, env=env, cwd=ROOT, timeout=120)
            out.append(float(target.read_text()))
    return out


class Ticker:
    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0

    def tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - 0.01)
        self.last = now

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0


async def stalls(tmp: Path) -> dict[str, float]:
    from assistant.bench import synthetic_document
    from assistant.core.random_model import random_distilbert
    from assistant.tui.app import AssistantApp
    from tests.helpers import save_tiny_model
    from tests.pilot import fill_train_form
    from tests.synthetic import VOCAB, make_examples, write_jsonl

    text = synthetic_document(130_000)
    doc = tmp / "long.txt"
    doc.write_text(text, encoding="utf-8")
    model = random_distilbert(tmp / "distilbert", text)
    base = save_tiny_model(tmp / "tiny", VOCAB, dim=64, layers=2, heads=4, max_positions=128)
    data = write_jsonl(tmp / "train.jsonl", make_examples(400))
    app = AssistantApp(model=str(model), train_overrides={"max_length": 64, "stride": 16, "sanity_steps": 100000})
    ticker = Ticker()
    result = {}
    async with app.run_test(size=(120, 36)) as pilot:
        app.set_interval(0.01, ticker.tick)
        while app.engine is None:
            await pilot.pause(0.05)
        ticker.reset()
        app.chat.open_document(doc)
        while app.chat.indexed is None:
            await pilot.pause(0.01)
        result["index_stall_ms"] = ticker.worst * 1000
        ticker.reset()
        questions = [" ".join(text.split()[i * 997 : i * 997 + 5]) + "?" for i in range(5)]
        await pilot.click("#question")
        for q in questions:
            await pilot.press(*q, "enter")
            await app.workers.wait_for_complete()
            await pilot.pause(0.05)
        result["answer_stall_ms"] = ticker.worst * 1000
        screen = await fill_train_form(app, pilot, base, data, "3")
        ticker.reset()
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        while screen.running:
            await pilot.pause(0.05)
        result["training_stall_ms"] = ticker.worst * 1000
        result["training_events_seen"] = float(screen.query_one("#train-progress").progress)
    return result


def main() -> None:
    if len(sys.argv) == 3:  # MODEL DOCUMENT: only the time to ready
        ready = ready_after_paint(sys.argv[1], Path(sys.argv[2]))
        print(f"ready after first paint (s), 5 launches: {[round(r, 2) for r in ready]}  median {sorted(ready)[2]:.2f}")
        return
    paints = first_paint()
    print(f"first paint (s), 5 launches: {[round(p, 2) for p in paints]}  median {sorted(paints)[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            HF_HUB_OFFLINE="1",
            ASSISTANT_DATA_DIR=f"{tmp}/data",
            ASSISTANT_CONFIG_DIR=f"{tmp}/cfg",
            ASSISTANT_MODELS_DIR=f"{tmp}/models",
        )
        for key, value in asyncio.run(stalls(Path(tmp))).items():
            print(f"{key}: {value:.0f}")


if __name__ == "__main__":
    main()
