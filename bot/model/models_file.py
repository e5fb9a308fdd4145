"""The models file (OMNICORD_MODELS_FILE): catalog entries added or merged at start-up.

A TOML file of ``[models."name"]`` tables (docs/models.md describes every key). Each entry
starts from nothing, from ``base`` (a built-in model) or, when its name is a built-in's, from
that built-in, which it then replaces. ``read_catalog`` checks the whole file and raises one
``ModelsFileError`` listing every mistake, one line each (file, table, key, what is wrong);
it never changes the catalog in use. ``install`` makes the file's catalog the process's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any

from omnicord.errors import ConfigError
from omnicord.model import catalog
from omnicord.model.catalog import (
    BUILTIN_CATALOG,
    MODEL_KINDS,
    AudioLimits,
    Catalog,
    ImageListLimits,
    ImageRules,
    ModelSpec,
    Price,
    VideoLimits,
    Voice,
)

MODALITIES = ("text", "image", "audio", "video")
REGIONS = ("intl", "cn")
_NEEDED_INPUT = ("text", "audio")  # every Omni model reads both; Omnicord relies on it

#: Keys of a ``[models."name"]`` table besides its sub-tables.
_SCALARS = ("base", "kind", "aliases", "input", "context_window", "max_input", "max_output",
            "max_input_thinking", "max_reasoning", "voices", "audio_output_rate",
            "system_message_with_audio_output", "speech_languages", "open_source")
#: Media-limit sub-tables and the dataclass each fills.
_MEDIA: dict[str, type[Any]] = {"audio": AudioLimits, "image": ImageRules,
                                "video": VideoLimits, "image_list": ImageListLimits}
_TABLE_KEYS = (*_SCALARS, *_MEDIA, "prices")
_PRICE_KEYS = ("input_per_million", "output_per_million")


class ModelsFileError(ConfigError):
    """The models file has mistakes; ``problems`` holds one line for each."""

    def __init__(self, problems: list[str]) -> None:
        count = f"{len(problems)} mistake{'s' if len(problems) > 1 else ''}"
        super().__init__("\n  ".join([f"OMNICORD_MODELS_FILE: {count}:", *problems]))
        self.problems = tuple(problems)


# --------------------------------------------------------------------------- start-up


_cache: dict[Path, tuple[tuple[int, int], Catalog]] = {}


def read_catalog(path: Path) -> Catalog:
    """The built-ins with the entries of the models file at ``path``; ModelsFileError listing
    every mistake. Read again only when the file changed (start-up reads it more than once)."""
    try:
        stat = path.stat()
        key = path.resolve()
    except OSError as error:
        raise ModelsFileError([f"{path}: cannot read it: {error.strerror or error}"]) from None
    import tomllib  # only when there is a file: start-up without one never loads it

    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelsFileError([f"{path}: cannot read it: {error.strerror or error}"]) from None
    except UnicodeDecodeError:
        raise ModelsFileError([f"{path}: is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ModelsFileError([f"{path}: not valid TOML: {error}"]) from None
    result = parse(data, str(path))
    _cache[key] = (stamp, result)
    return result


def catalog_for(path: Path | None) -> Catalog:
    """The catalog a models file setting means: the built-ins alone when it names none."""
    return BUILTIN_CATALOG if path is None else read_catalog(path)


def install(path: Path | None) -> Catalog:
    """Make the catalog of ``path`` (the built-ins alone for None) the process's; the same
    file twice gives the same catalog."""
    chosen = catalog_for(path)
    catalog.install(chosen)
    return chosen


def checking(path: Path | None) -> AbstractContextManager[object]:
    """A block in which model names are checked against the file's catalog (settings use it:
    OMNICORD_MODEL may name a model the file adds), the process's catalog unchanged."""
    return nullcontext() if path is None else catalog.scoped(read_catalog(path))


def entries(models: tuple[ModelSpec, ...]) -> list[ModelSpec]:
    """The models a file added or merged (those whose origin is not built-in)."""
    return [model for model in models if model.origin != catalog.BUILT_IN]


# --------------------------------------------------------------------------- parsing


def parse(data: dict[str, Any], where: str) -> Catalog:
    """The catalog a parsed models file describes; ModelsFileError listing every mistake."""
    problems: list[str] = []
    for key in data:
        if key == "realtime":
            problems.append(f"{where}: [realtime] realtime models cannot be added by a models "
                            "file yet (only [models.\"name\"] tables)")
        elif key != "models":
            problems.append(f"{where}: {key}: unknown table{_did_you_mean(key, ['models'])}")
    tables = data.get("models", {})
    if not isinstance(tables, dict):
        problems.append(f"{where}: models: must be tables like [models.\"name\"]")
        tables = {}
    made: list[ModelSpec] = []
    for name, table in tables.items():
        entry = _Entry(where, name, problems)
        model = entry.build(table)
        if model is not None:
            made.append(model)
    models = _merged(made, where, problems)
    if problems:
        raise ModelsFileError(problems)
    return Catalog(models)


def _merged(made: list[ModelSpec], where: str, problems: list[str]) -> list[ModelSpec]:
    """The built-ins with the file's entries: one of the same name replaces it, the others
    follow; a name or alias two entries share is a mistake."""
    replaced = {m.name.lower(): m for m in made}
    models = [replaced.pop(m.name.lower(), m) for m in BUILTIN_CATALOG.models]
    models += list(replaced.values())
    owners: dict[str, ModelSpec] = {}
    for model in models:
        for key in (model.name, *model.aliases):
            other = owners.setdefault(key.lower(), model)
            if other is not model:
                mine = model if model.origin != catalog.BUILT_IN else other
                theirs = other if mine is model else model
                what = "name" if key.lower() == mine.name.lower() else "alias"
                problems.append(f"{where}: {_table(mine.name)} {what} {key!r} is already "
                                f"{_owner(key, theirs)}")
    return models


def _owner(key: str, model: ModelSpec) -> str:
    named = "the name" if key.lower() == model.name.lower() else "an alias"
    source = "built-in" if model.origin == catalog.BUILT_IN else "another entry"
    return f"{named} of {source} {model.name}"


def _table(name: str) -> str:
    return f"[models.{_quoted(name)}]"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    import difflib  # only when there is a mistake
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


@dataclass
class _Entry:
    """One ``[models."name"]`` table being checked; mistakes go to ``problems``."""

    where: str
    name: str
    problems: list[str]

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where}: {_table(self.name)} {key}: {message}")

    def build(self, table: Any) -> ModelSpec | None:
        count = len(self.problems)
        if not self.name.strip() or self.name != self.name.strip():
            self.fail("name", "must be a model name without surrounding spaces")
        if not isinstance(table, dict):
            self.fail("table", "must be a table of keys")
            return None
        aliased = BUILTIN_CATALOG.get(self.name)
        if aliased is not None and aliased.name.lower() != self.name.strip().lower():
            self.fail("name", f"{self.name!r} is an alias of built-in {aliased.name}: name "
                      f"the table {_table(aliased.name)} to change that model, or pick a new "
                      "name")
            return None
        for key in table:
            if key not in _TABLE_KEYS:
                self.fail(key, "unknown key" + _did_you_mean(key, _TABLE_KEYS))
        base = self._base(table)
        base_failed = len(self.problems) > count and "base" in table
        changes = self._scalars(table, base)
        for key, kind in _MEDIA.items():
            if key in table:
                changes[key] = self._media(key, kind, table[key], getattr(base, key, None))
        if "prices" in table:
            changes["prices"] = self._prices(table["prices"], base.prices if base else {})
        if not base_failed:  # else what it would have given is missing: one line says why
            self._modalities(table, base, changes)
        self._check_limits(changes, base)
        if len(self.problems) > count:
            return None
        return self._spec(base, changes)

    # ---- keys

    def _base(self, table: dict[str, Any]) -> ModelSpec | None:
        own = BUILTIN_CATALOG.get(self.name)  # its own name (build refused an alias)
        if "base" not in table:
            return own
        name = table["base"]
        if not isinstance(name, str):
            self.fail("base", f"must be a model name, got {_shown(name)}")
            return own
        found = BUILTIN_CATALOG.get(name)
        if found is None:
            names = [m.name for m in BUILTIN_CATALOG.models]
            self.fail("base", f"no built-in model {name!r}{_did_you_mean(name, names)} "
                      f"(built-ins: {', '.join(names)})")
            return own
        return found

    def _scalars(self, table: dict[str, Any], base: ModelSpec | None) -> dict[str, Any]:
        checks: dict[str, Callable[[str, Any], Any]] = {
            "kind": self._kind, "aliases": self._names, "speech_languages": self._names,
            "context_window": self._positive_int, "max_input": self._positive_int,
            "max_output": self._positive_int, "max_input_thinking": self._positive_int,
            "max_reasoning": self._positive_int, "audio_output_rate": self._rate,
            "voices": self._voices, "system_message_with_audio_output": self._flag,
            "open_source": self._flag,
        }
        changes: dict[str, Any] = {}
        for key, given in table.items():  # in the file's order, as the mistakes are listed
            if key in checks:
                value = checks[key](key, given)
                if value is not None:
                    changes[key] = value
        return changes

    def _kind(self, key: str, value: Any) -> str | None:
        if value in MODEL_KINDS:
            return str(value)
        self.fail(key, f"must be chat or captioner, got {_shown(value)}"
                  + (_did_you_mean(value, MODEL_KINDS) if isinstance(value, str) else ""))
        return None

    def _names(self, key: str, value: Any) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            self.fail(key, f"must be a list of names, got {_shown(value)}")
            return None
        return tuple(v.strip() for v in value)

    def _positive_int(self, key: str, value: Any) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        self.fail(key, f"must be a positive integer, got {_shown(value)}")
        return None

    def _positive_number(self, key: str, value: Any) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        self.fail(key, f"must be a positive number, got {_shown(value)}")
        return None

    def _price(self, key: str, value: Any) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        self.fail(key, f"must be dollars per million tokens (0 or more), got {_shown(value)}")
        return None

    def _rate(self, key: str, value: Any) -> int | None:
        rate = self._positive_int(key, value)
        if rate is not None and not 8_000 <= rate <= 192_000:
            self.fail(key, f"must be a sample rate in Hz (8000 to 192000), got {rate}")
            return None
        return rate

    def _flag(self, key: str, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        self.fail(key, f"must be true or false, got {_shown(value)}")
        return None

    def _voices(self, key: str, value: Any) -> tuple[Voice, ...] | None:
        if not isinstance(value, list):
            self.fail(key, f"must be a list of voice names or {{name=..., note=...}} tables, "
                      f"got {_shown(value)}")
            return None
        voices: list[Voice] = []
        for item in value:
            voice = self._voice(key, item)
            if voice is None:
                return None
            if any(v.name.lower() == voice.name.lower() for v in voices):
                self.fail(key, f"voice {voice.name!r} is listed twice")
                return None
            voices.append(voice)
        return tuple(voices)

    def _voice(self, key: str, item: Any) -> Voice | None:
        if isinstance(item, str) and item.strip():
            return Voice(item.strip())
        if isinstance(item, dict):
            unknown = [k for k in item if k not in ("name", "note")]
            name, note = item.get("name"), item.get("note", "")
            if not unknown and isinstance(name, str) and name.strip() and isinstance(note, str):
                return Voice(name.strip(), note)
        self.fail(key, f"each voice must be a name or {{name=..., note=...}}, got {_shown(item)}")
        return None

    def _media(self, key: str, kind: type[Any], value: Any, base: Any) -> Any:
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, got {_shown(value)}")
            return None
        known = {f.name: f for f in fields(kind)}
        given: dict[str, Any] = {}
        for name, item in value.items():
            where = f"{key}.{name}"
            if name not in known:
                self.fail(where, "unknown key" + _did_you_mean(name, list(known)))
            elif name == "formats":
                names = self._names(where, item)
                if names is not None:
                    given[name] = tuple(n.lower() for n in names)
            elif name == "tokens_per_second_documented":
                flag = self._flag(where, item)
                if flag is not None:
                    given[name] = flag
            elif known[name].type in ("int", int):  # the others are floats
                number = self._positive_int(where, item)
                if number is not None:
                    given[name] = number
            else:
                real = self._positive_number(where, item)
                if real is not None:
                    given[name] = real
        if base is not None:
            return replace(base, **given)
        if kind is AudioLimits:
            given.setdefault("tokens_per_second_documented", False)
        missing = [f.name for f in fields(kind) if f.name not in given
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            self.fail(key, f"missing {', '.join(missing)} (no base model gives them)")
            return None
        try:
            return kind(**given)
        except TypeError:
            return None  # a wrong value was reported above

    def _prices(self, value: Any, base: dict[str, Price]) -> dict[str, Price] | None:
        if not isinstance(value, dict):
            self.fail("prices", f"must be tables like [models.{_quoted(self.name)}.prices.intl]")
            return None
        prices = dict(base)
        for region, table in value.items():
            where = f"prices.{region}"
            if region not in REGIONS:
                self.fail(where, f"unknown region (intl or cn){_did_you_mean(region, REGIONS)}")
                continue
            if not isinstance(table, dict):
                self.fail(where, f"must be a table of {' and '.join(_PRICE_KEYS)}")
                continue
            for key in table:
                if key not in _PRICE_KEYS:
                    self.fail(f"{where}.{key}", "unknown key" + _did_you_mean(key, _PRICE_KEYS))
            old = base.get(region)
            amounts: dict[str, float] = {}
            for key in _PRICE_KEYS:
                amount = (self._price(f"{where}.{key}", table[key]) if key in table
                          else getattr(old, key) if old is not None else None)
                if amount is not None:
                    amounts[key] = amount
                elif key not in table:
                    self.fail(where, f"missing {key}")
            if len(amounts) == 2:
                prices[region] = Price(**amounts)
        return prices

    def _modalities(self, table: dict[str, Any], base: ModelSpec | None,
                    changes: dict[str, Any]) -> None:
        """Turn ``input`` into the media rules: a modality left out is refused (its rules
        None); one listed needs rules, given or from the base."""
        if "input" not in table:
            if base is None:
                self.fail("input", "missing (list the modalities: text, audio, and image or "
                          "video if it takes them)")
            return
        value = table["input"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail("input", f"must be a list of modalities, got {_shown(value)}")
            return
        for modality in value:
            if modality not in MODALITIES:
                self.fail("input", f"unknown modality {modality!r}"
                          f"{_did_you_mean(modality, MODALITIES)} (text, image, audio, video)")
        for needed in _NEEDED_INPUT:
            if needed not in value:
                self.fail("input", f"must include {needed} (every Qwen-Omni model reads it)")
        for modality, keys in (("image", ("image",)), ("video", ("video", "image_list"))):
            if modality not in value:
                for key in keys:
                    changes[key] = None
                continue
            for key in keys:
                if changes.get(key) is None and getattr(base, key, None) is None:
                    if key == "image_list" and changes.get("video") is not None:
                        video = changes["video"]
                        changes[key] = ImageListLimits(video.min_frames, video.max_frames)
                    elif key not in table:
                        self.fail("input", f"lists {modality} but there is no [{key}] table "
                                  "(nor a base model with one)")

    # ---- the entry

    def _spec(self, base: ModelSpec | None, changes: dict[str, Any]) -> ModelSpec | None:
        origin = f"{self.where} {_table(self.name)}"
        if base is not None:
            spec = replace(base, name=self.name, origin=origin, **changes)
            if "aliases" not in changes and base.name.lower() != self.name.lower():
                spec = replace(spec, aliases=())  # a base's snapshots are not this model's
        else:
            missing = [key for key in ("kind", "context_window", "max_input", "max_output",
                                       "audio") if key not in changes]
            if missing:
                self.fail(missing[0], f"missing (and no base model): give {', '.join(missing)} "
                          "or base = \"<built-in model>\"")
                return None
            spec = ModelSpec(name=self.name, origin=origin, **changes)
        return spec

    def _check_limits(self, changes: dict[str, Any], base: ModelSpec | None) -> None:
        """Token limits within the context window, and no voices for a captioner (values
        given, else the base's)."""
        def value(key: str) -> Any:
            return changes[key] if key in changes else getattr(base, key, None)

        window = value("context_window")
        for key in ("max_input", "max_output", "max_input_thinking"):
            limit = value(key)
            if window is not None and limit is not None and limit > window and (
                    key in changes or "context_window" in changes):
                self.fail(key, f"{limit} is more than context_window {window}")
        if value("kind") == "captioner" and value("voices"):
            self.fail("voices", "a captioner does not speak: leave voices out")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
