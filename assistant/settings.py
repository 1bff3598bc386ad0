"""User settings, each defined once, as a field of ``Settings`` (its type, default, range, label and help); the
TOML validation, the settings form, the command-line flags and the engine's settings are all derived from it.

Adding a setting is adding a field with ``setting(...)``: ``settings.toml`` reads and checks it, the settings screen
shows it (``Spec.widget``), ``assistant ask`` gets a flag when ``flag=True``, and ``engine_settings`` passes it to
the engine when ``engine`` names where it goes there.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import Field, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import tomli_w

from assistant.core import files
from assistant.core.decoding import DecodeSettings
from assistant.core.defaults import DEFAULT_READER
from assistant.core.errors import UserError
from assistant.core.limits import MAX_READ_WINDOWS, MIN_READ_WINDOWS, READ_WINDOWS
from assistant.core.model_loading import DEVICE_WORDS, is_device
from assistant.paths import user_config_dir
from assistant.runs.registry import activate, active_problem, active_run_path

if TYPE_CHECKING:  # the engine imports the reader: only its type is needed here
    from assistant.core.engine import EngineSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Widget = Literal["integer", "number", "switch", "device", "theme", "model"]
"""How the settings form edits a setting."""

Parse = Callable[[object], Any]
"""A value from TOML, a form field (text) or a flag, as the setting's type; None when it is not one."""


@dataclass(frozen=True)
class Spec:
    """Everything about one setting except its name, type and default (the field's)."""

    label: str
    """The form's label."""
    accepts: str
    """What it accepts, in one sentence: said when a form, a flag or settings.toml gives it something else."""
    parse: Parse
    widget: Widget
    flag: str | None = None
    """The `assistant ask` flag's help (the flag is the name with dashes); None: no flag."""
    engine: str | None = None
    """Where it goes in ``EngineSettings`` (``read_windows``, ``decode.top_k``); None: not an engine setting."""


def whole(low: int, high: int) -> Parse:
    def parse(value: object) -> int | None:
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                return None
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if low <= value <= high else None

    return parse


def number(low: float, high: float) -> Parse:
    def parse(value: object) -> float | None:
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        result = float(value)
        return result if math.isfinite(result) and low <= result <= high else None

    return parse


def parse_switch(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


THEME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""What a theme's name looks like: never markup, a control character or a path."""


def parse_theme(value: object) -> str | None:
    return value if isinstance(value, str) and THEME_NAME.fullmatch(value) else None


def parse_device(value: object) -> str | None:
    """The one device rule (``assistant.core.model_loading.DEVICE_PATTERN``)."""
    return value.strip() if isinstance(value, str) and is_device(value.strip()) else None


def setting(default: Any, spec: Spec) -> Any:
    return field(default=default, metadata={"setting": spec})


_DECODE = DecodeSettings()
MAX_TOP_K = 100
"""More answers than a person reads; the decoder keeps at most ``n_best`` per window anyway."""


@dataclass
class Settings:
    top_k: int = setting(
        _DECODE.top_k,
        Spec(
            f"Answers per question (top-k, 1 to {MAX_TOP_K})",
            f"Answers per question (top-k) must be a whole number from 1 to {MAX_TOP_K}.",
            whole(1, MAX_TOP_K),
            "integer",
            flag="answers per question",
            engine="decode.top_k",
        ),
    )
    threshold: float = setting(
        _DECODE.min_confidence,
        Spec(
            "Minimum confidence for an answer (0 to 1)",
            "The minimum confidence must be a number from 0 to 1.",
            number(0.0, 1.0),
            "number",
            flag="minimum confidence in [0, 1] for an answer",
            engine="decode.min_confidence",
        ),
    )
    read_windows: float = setting(
        READ_WINDOWS,
        Spec(
            f"Reading budget per question, in windows of context ({MIN_READ_WINDOWS:g} to {MAX_READ_WINDOWS:g};"
            " more reads more of a long document, slower)",
            f"The reading budget must be a number of windows from {MIN_READ_WINDOWS:g} to {MAX_READ_WINDOWS:g}.",
            number(MIN_READ_WINDOWS, MAX_READ_WINDOWS),
            "number",
            flag="windows' worth of context tokens read per question in a long document",
            engine="read_windows",
        ),
    )
    int8: bool = setting(
        False,
        Spec(
            "int8: a quantized reader on the CPU (faster, slightly less exact)",
            "int8 must be on or off.",
            parse_switch,
            "switch",
            flag="dynamic int8 quantization on CPU (faster, see README)",
        ),
    )
    device: str = setting(
        "auto",
        Spec(
            "Device for the reader",
            f"The device must be {DEVICE_WORDS}.",
            parse_device,
            "device",
            flag="where the reader runs: auto, cpu, cuda or cuda:N",
        ),
    )
    theme: str = setting("textual-dark", Spec("Theme", "The theme must be the name of a theme.", parse_theme, "theme"))
    reopen_last: bool = setting(
        True,
        Spec(
            "Reopen the last document when the app starts without one",
            "Reopening the last document must be on or off.",
            parse_switch,
            "switch",
        ),
    )
    model: str = setting(
        "",
        Spec(
            "Default model: a checkpoint folder or a hub id (empty: the active run, else the hub default)",
            "The default model must be a folder path or a hub id.",
            parse_text,
            "model",
        ),
    )

    @classmethod
    def path(cls) -> Path:
        return user_config_dir() / "settings.toml"

    @classmethod
    def load(cls) -> Settings:
        """The saved settings; a missing or unreadable file, and every bad value in it, give the default."""
        return cls.load_checked()[0]

    @classmethod
    def load_checked(cls) -> tuple[Settings, list[str]]:
        """The saved settings, and a sentence for each value that gave way to its default (or for a file that
        could not be read at all): a setting the user wrote is never dropped without a word."""
        path = cls.path()
        if not os.path.lexists(path):
            return cls(), []
        try:
            data = tomllib.loads(files.read_text(path, files.SETTINGS))
        except (UserError, tomllib.TOMLDecodeError, RecursionError) as exc:  # special, too large, not TOML, too deep
            reason = str(exc) if isinstance(exc, UserError) else f"it is not TOML ({type(exc).__name__})"
            return cls(), [f"{path} is not used: {reason.rstrip('.')}; every setting is its default."]
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f, spec in specs(cls):
            if f.name not in data:
                continue
            value = spec.parse(data[f.name])
            if value is None:
                problems.append(f"{path}: {f.name} is not used: {spec.accepts[:-1]}; it is {f.default!r}.")
            else:
                values[f.name] = value
        return cls(**values), problems

    def save(self) -> None:
        files.write_text(self.path(), tomli_w.dumps(asdict(self)))

    def problem(self) -> str | None:
        """The first value that cannot be saved, in one sentence for the user; None when every value is valid."""
        for f, spec in specs(type(self)):
            if spec.parse(getattr(self, f.name)) is None:
                return spec.accepts
        return None


def specs(schema: type[Settings] = Settings) -> Iterator[tuple[Field[Any], Spec]]:
    """Each setting of ``schema`` (``Settings``, or a subclass that adds some) with its spec, in order."""
    for f in fields(schema):
        spec = f.metadata.get("setting")
        if isinstance(spec, Spec):
            yield f, spec


def from_form(values: Mapping[str, object], schema: type[Settings] = Settings) -> Settings:
    """Settings from a form's fields (text, or a switch's bool) by name; a ValueError says, in one sentence, the
    first value that cannot be saved."""
    parsed: dict[str, Any] = {}
    for f, spec in specs(schema):
        value = spec.parse(values[f.name])
        if value is None:
            raise ValueError(spec.accepts)
        parsed[f.name] = value
    return schema(**parsed)


# --- the command line -----------------------------------------------------------------------------------------------
def flag_type(name: str, schema: type[Settings] = Settings) -> Callable[[str], Any]:
    """An argparse ``type`` that parses a flag as setting ``name`` does, and says what it accepts otherwise."""
    spec = dict((f.name, s) for f, s in specs(schema))[name]

    def parse(value: str) -> Any:
        parsed = spec.parse(value)
        if parsed is None:
            raise argparse.ArgumentTypeError(f"{spec.accepts[0].lower()}{spec.accepts[1:].rstrip('.')} (got {value!r})")
        return parsed

    return parse


def add_setting_flags(parser: argparse.ArgumentParser, schema: type[Settings] = Settings) -> None:
    """A flag for every setting that has one; not given (None), settings.toml's value is used."""
    for f, spec in specs(schema):
        if spec.flag is None:
            continue
        help_text = f"{spec.flag} (default: settings.toml's {f.name}, else {f.default})"
        option = f"--{f.name.replace('_', '-')}"
        if spec.widget == "switch":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(option, type=flag_type(f.name, schema), default=None, help=help_text)


def with_flags(settings: Settings, flags: argparse.Namespace) -> Settings:
    """``settings`` with every flag that was given (not None) in place of its value, for this process only."""
    given = {
        f.name: getattr(flags, f.name) for f, _ in specs(type(settings)) if getattr(flags, f.name, None) is not None
    }
    return replace(settings, **given)


# --- the engine -----------------------------------------------------------------------------------------------------
def engine_settings(settings: Settings, base: EngineSettings | None = None) -> EngineSettings:
    """``base`` (the engine's defaults) with every engine setting of ``settings`` in its place."""
    from assistant.core.engine import EngineSettings

    engine = base or EngineSettings()
    decode_values: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for f, spec in specs(type(settings)):
        if spec.engine is not None:
            part, _, name = spec.engine.rpartition(".")
            (decode_values if part == "decode" else values)[name] = getattr(settings, f.name)
    return replace(engine, decode=replace(engine.decode, **decode_values), **values)


# --- which reader ---------------------------------------------------------------------------------------------------
Source = Literal["--model", "ASSISTANT_MODEL", "settings", "active run", "default", "chosen"]
"""Which rule picked a reader; "chosen": picked in the app, remembered (as settings) once it has loaded."""


@dataclass(frozen=True)
class ModelChoice:
    ref: str
    source: Source


def resolve_model(cli_model: str | None = None, settings: Settings | None = None) -> ModelChoice:
    """The one order for the CLI and the app: ``--model``, ``$ASSISTANT_MODEL`` (both for one process),
    settings.toml's ``model`` (what the user last chose in the app or in Settings), the active run in ``models/``
    (activating a run clears ``model``), then the hub default."""
    if cli_model:
        return ModelChoice(cli_model, "--model")
    env = os.environ.get("ASSISTANT_MODEL", "").strip()
    if env:
        return ModelChoice(env, "ASSISTANT_MODEL")
    saved = (settings or Settings.load()).model.strip()
    if saved:
        return ModelChoice(saved, "settings")
    problem = active_problem()
    if problem:  # answering with another reader than the one made active would be silently wrong
        raise UserError(problem)
    active = active_run_path()
    if active is not None:
        return ModelChoice(str(active), "active run")
    return ModelChoice(DEFAULT_READER, "default")


def keep_choice(settings: Settings, ref: str, run: str | None = None) -> Source:
    """Make what the user just chose what the next start loads, and say which rule will load it: a ``run`` made
    active ("active run": ACTIVE names it, and settings.toml's model is cleared, or it would win), or any other
    reader as settings.toml's model ("settings"). ``settings`` changes only once the file is written; a UserError
    or one of ``files.WRITE_ERRORS`` says what could not be kept."""
    model = ref
    if run is not None:
        activate(run)
        model = ""
    if settings.model != model:
        replace(settings, model=model).save()
        settings.model = model
    return "active run" if run is not None else "settings"
