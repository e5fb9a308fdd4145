"""Settings from environment variables and an optional ``.env`` file.

``load_settings()`` turns every problem into a ``ConfigError`` whose message names the setting,
so the command line can print one clear line instead of a traceback, and masks the secrets it
read. A ``Settings`` holds values only: building one (in a test, or a host bot) changes nothing
else; ``omnicord.build`` masks its secrets when Omnicord builds anything from it.

Each setting is one row of ``FIELDS`` (its variable, default and parser, from
``omnicord.setting_values``); a few checks span two settings. Plain parsers rather than a
validation library keep the CLI's start-up fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omnicord import setting_values as values
from omnicord.environment import (
    ENV_FILE,
    ENVIRONMENT,
    SECRET_FILE_SETTINGS,
    read_env_file,
    read_environment,
    secrets_among,
)
from omnicord.errors import ConfigError
from omnicord.model.catalog import (
    DEFAULT_CAPTION_MODEL,
    DEFAULT_CHAT_MODEL,
    DEFAULT_REALTIME_MODEL,
    DEFAULT_VOICE,
    ModelKind,
    UnknownVoiceError,
    find_model,
    find_realtime_model,
)
from omnicord.model.models_file import checking as checking_models
from omnicord.model.models_file import install as install_models
from omnicord.secrets import register as register_secrets
from omnicord.secrets import url_password, url_secrets
from omnicord.setting_values import Secret
from omnicord.store.urls import is_postgresql_url, sqlite_path

DEFAULT_BASE_URL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
DEFAULT_REALTIME_URL = "wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
REPLY_MODES = ("text", "voice", "both", "auto")

#: OMNICORD_* names of the test suite's and the benchmarks' own (OMNICORD_TEST_POSTGRES, …).
_OTHER_PREFIXES = ("omnicord_test_", "omnicord_bench_")


def _database(value: Any) -> str:
    text = values.text(value).strip()
    if not text:
        raise ValueError("must be a SQLite file path or a postgresql:// URL")
    return text


def _base_url(value: Any) -> str:
    return _url(value, ("http", "https"), "an http(s) URL such as " + DEFAULT_BASE_URL)


def _realtime_url(value: Any) -> str:
    return _url(value, ("ws", "wss"), "a ws(s) URL such as " + DEFAULT_REALTIME_URL)


def _url(value: Any, schemes: tuple[str, ...], wanted: str) -> str:
    text = values.text(value).strip()
    parsed = urlparse(text)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError("must be " + wanted)
    password = url_password(text)
    if password and any(char in password for char in "@/?#"):
        raise ValueError("percent-encode the special characters of its password (%40 for "
                         "@, %2F for /, %3F for ?, %23 for #)")
    try:
        _ = parsed.port  # a port that is not a number raises ValueError
    except ValueError:
        raise ValueError("its port is not a number") from None
    return text.rstrip("/")


def _model_of(kind: ModelKind) -> values.Parser:
    def parse(value: Any) -> str:
        text = values.text(value)
        find_model(text, kind)  # an unknown model is a ValueError that says so
        return text.strip()

    return parse


def _realtime_model(value: Any) -> str:
    text = values.text(value)
    find_realtime_model(text)  # an unknown model is a ValueError that says so
    return text.strip()


def _log_level(value: Any) -> str:
    level = "INFO" if values.is_blank(value) else values.text(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
    return level


def _reply_mode(value: Any) -> str:
    mode = values.text(value).strip().lower()
    if mode not in REPLY_MODES:
        raise ValueError("must be text, voice, both or auto")
    return mode


def _prices(value: Any) -> str:
    text = values.text(value)
    if not text.strip():
        return text  # nothing to parse: the usage policy (and the store) need not load
    from omnicord.policy.usage import parse_prices

    parse_prices(text)
    return text


def _shard_ids(value: Any) -> str | None:
    text = values.optional_text(value)
    if text is not None:
        parse_shard_ids(text)
    return text


@dataclass(frozen=True)
class Field:
    """One setting: its attribute, its variable, its default and how its text is read."""

    name: str
    alias: str
    default: Any
    parse: Callable[[Any], Any]


FIELDS: tuple[Field, ...] = (
    Field("api_key", "DASHSCOPE_API_KEY", None, values.secret),
    Field("base_url", "DASHSCOPE_BASE_URL", DEFAULT_BASE_URL, _base_url),
    Field("model", "OMNICORD_MODEL", DEFAULT_CHAT_MODEL, _model_of("chat")),
    Field("voice", "OMNICORD_VOICE", DEFAULT_VOICE, values.text),
    Field("caption_model", "OMNICORD_CAPTION_MODEL", DEFAULT_CAPTION_MODEL,
          _model_of("captioner")),
    Field("realtime_url", "OMNICORD_REALTIME_URL", DEFAULT_REALTIME_URL, _realtime_url),
    Field("realtime_model", "OMNICORD_REALTIME_MODEL", DEFAULT_REALTIME_MODEL,
          _realtime_model),
    Field("talk_voice", "OMNICORD_TALK_VOICE", None, values.optional_text),
    Field("database", "OMNICORD_DB", "omnicord.db", _database),
    Field("db_pool_size", "OMNICORD_DB_POOL_SIZE", 10, values.integer(ge=1, le=1000)),
    Field("discord_token", "DISCORD_TOKEN", None, values.secret),
    Field("request_timeout", "OMNICORD_REQUEST_TIMEOUT", 120.0, values.number(gt=0)),
    Field("max_retries", "OMNICORD_MAX_RETRIES", 2, values.integer(ge=0, le=10)),
    Field("ffmpeg", "OMNICORD_FFMPEG", None, values.optional_text),
    Field("cache_dir", "OMNICORD_CACHE_DIR", None, values.optional_path),
    Field("cache_max_mb", "OMNICORD_CACHE_MAX_MB", 500, values.integer(ge=0)),
    Field("cache_max_days", "OMNICORD_CACHE_MAX_DAYS", 7.0, values.number(ge=0)),
    Field("max_input_mb", "OMNICORD_MAX_INPUT_MB", 500, values.integer(gt=0)),
    Field("text_limit", "OMNICORD_TEXT_LIMIT", 20_000, values.integer(gt=0)),
    Field("reply_mode", "OMNICORD_REPLY_MODE", "auto", _reply_mode),
    Field("daily_token_cap", "OMNICORD_DAILY_TOKEN_CAP", 0, values.integer(ge=0)),
    Field("monthly_budget_tokens", "OMNICORD_MONTHLY_BUDGET_TOKENS", 0, values.integer(ge=0)),
    Field("monthly_budget_usd", "OMNICORD_MONTHLY_BUDGET_USD", 0.0, values.number(ge=0)),
    Field("cooldown_seconds", "OMNICORD_COOLDOWN_SECONDS", 3.0, values.number(ge=0)),
    Field("edit_window", "OMNICORD_EDIT_WINDOW", 600.0, values.number(ge=0)),
    Field("guild_concurrency", "OMNICORD_GUILD_CONCURRENCY", 4, values.integer(ge=0)),
    Field("process_replies", "OMNICORD_PROCESS_REPLIES", 32, values.integer(ge=1, le=10_000)),
    Field("prices", "OMNICORD_PRICES", "", _prices),
    Field("upstream_rpm", "OMNICORD_UPSTREAM_RPM", 0, values.integer(ge=0)),
    Field("allow_dms", "OMNICORD_ALLOW_DMS", True, values.flag),
    Field("retention_days", "OMNICORD_RETENTION_DAYS", 0,
          values.integer(ge=0, le=36_500, blank=0)),
    Field("shard_count", "OMNICORD_SHARD_COUNT", None, values.integer(ge=1, optional=True)),
    Field("shard_ids_spec", "OMNICORD_SHARD_IDS", None, _shard_ids),
    Field("shutdown_grace", "OMNICORD_SHUTDOWN_GRACE", 20.0, values.number(ge=0, le=3600)),
    Field("log_level", "OMNICORD_LOG_LEVEL", "INFO", _log_level),
    Field("log_file", "OMNICORD_LOG_FILE", None, values.optional_path),
    Field("message_content", "OMNICORD_MESSAGE_CONTENT", True, values.flag),
    Field("models_file", "OMNICORD_MODELS_FILE", None, values.optional_path),
)
_BY_NAME = {field.name: field for field in FIELDS}
_BY_ALIAS = {field.alias: field for field in FIELDS}


def known_names() -> list[str]:
    """Every variable Omnicord reads, as documented (upper case)."""
    return [*(field.alias for field in FIELDS), *(f"{name}_FILE" for name in SECRET_FILE_SETTINGS)]


@dataclass(frozen=True)
class UnknownSetting:
    """An OMNICORD_* variable that no setting reads, where it was set, and the likeliest
    intended name."""

    name: str
    where: str
    suggestion: str | None

    def problem(self) -> str:
        """What is wrong, in a few words."""
        return f"{self.name} in {self.where} is not an Omnicord setting, so it is ignored"

    def hint(self) -> str:
        """The closest setting, or where to find them all."""
        return (f"did you mean {self.suggestion}?" if self.suggestion
                else ".env.example lists every setting")


def unknown_settings(env_file: Path = ENV_FILE) -> list[UnknownSetting]:
    """Each OMNICORD_* name (in any case) in the environment or ``env_file`` that Omnicord
    does not read: a typo that would otherwise be silently ignored."""
    known = known_names()
    lowered = {name.lower() for name in known}
    found: dict[str, UnknownSetting] = {}
    sources = ((os.environ, ENVIRONMENT), (read_env_file(env_file), str(env_file)))
    for variables, where in sources:
        for name in variables:
            key = name.lower()
            if (key.startswith("omnicord_") and not key.startswith(_OTHER_PREFIXES)
                    and key not in lowered and key not in found):
                found[key] = UnknownSetting(name, where, _closest(name.upper(), known))
    return list(found.values())


def _closest(name: str, known: list[str]) -> str | None:
    """The known name most like ``name``, compared without their first word (OMNICORD_,
    DASHSCOPE_, DISCORD_), which would make every OMNICORD_ name look alike; OMNICORD_TOKEN
    finds DISCORD_TOKEN."""
    import difflib  # only when a name is unknown

    by_tail = {known_name.partition("_")[2]: known_name for known_name in reversed(known)}
    matches = difflib.get_close_matches(name.partition("_")[2], by_tail, n=1, cutoff=0.6)
    return by_tail[matches[0]] if matches else None


@dataclass(frozen=True, init=False)
class Settings:
    """Every setting Omnicord reads. Give values by attribute or variable name
    (``Settings(OMNICORD_DB="x.db")``); a value given wins over the environment, which wins
    over ``.env``. A bad value raises ``ConfigError`` naming its variable."""

    api_key: Secret | None
    base_url: str
    model: str
    voice: str
    caption_model: str
    realtime_url: str
    realtime_model: str
    talk_voice: str | None
    database: str
    db_pool_size: int
    discord_token: Secret | None
    request_timeout: float
    max_retries: int
    ffmpeg: str | None
    cache_dir: Path | None
    cache_max_mb: int
    cache_max_days: float
    max_input_mb: int
    text_limit: int
    reply_mode: str
    daily_token_cap: int
    cooldown_seconds: float
    edit_window: float
    monthly_budget_tokens: int
    monthly_budget_usd: float
    guild_concurrency: int
    process_replies: int
    prices: str
    upstream_rpm: int
    allow_dms: bool
    retention_days: int
    shard_count: int | None
    shard_ids_spec: str | None
    shutdown_grace: float
    log_level: str
    log_file: Path | None
    message_content: bool
    models_file: Path | None

    def __init__(self, *, env_file: Path | None = None, secrets_read: list[str] | None = None,
                 **given: Any) -> None:
        """Settings from ``given``, else the environment, else ``env_file`` (default
        ``.env``); the secrets read from those are appended to ``secrets_read``. A copy with
        changes is ``dataclasses.replace(settings, name=value)``."""
        chosen = _by_field(given)
        unset = [field.alias for field in FIELDS if field.name not in chosen]
        found = read_environment(unset, env_file or ENV_FILE) if unset else {}
        if secrets_read is not None:
            secrets_read += secrets_among(found)
            secrets_read += url_secrets(found.get("OMNICORD_REALTIME_URL", ""))
        raws = {field.name: chosen[field.name] if field.name in chosen
                else found.get(field.alias, field.default) for field in FIELDS}
        models_file = _parsed(_BY_NAME["models_file"], raws["models_file"])
        # Model names are checked against the models file's catalog (it may add the model
        # OMNICORD_MODEL names); the process's catalog changes only in load_settings.
        with checking_models(models_file):
            for field in FIELDS:
                object.__setattr__(self, field.name, _parsed(field, raws[field.name]))
            self._check_shards()
            object.__setattr__(self, "voice", self._checked_voice())
            object.__setattr__(self, "talk_voice", self._checked_talk_voice())

    def _check_shards(self) -> None:
        if self.shard_ids is None:
            return
        if self.shard_count is None:
            raise ConfigError("OMNICORD_SHARD_IDS needs OMNICORD_SHARD_COUNT (the total)")
        outside = [i for i in self.shard_ids if i >= self.shard_count]
        if outside:
            raise ConfigError(f"OMNICORD_SHARD_IDS: shard {outside[0]} is not below "
                              f"OMNICORD_SHARD_COUNT={self.shard_count}")

    def _checked_voice(self) -> str:
        model = find_model(self.model, "chat")
        voice = model.find_voice(self.voice)
        if voice is None:
            raise ConfigError(f"OMNICORD_VOICE: {model.name} has no voice {self.voice!r} "
                              f"(choose from {', '.join(model.voice_names())})")
        return voice.name

    def _checked_talk_voice(self) -> str | None:
        if self.talk_voice is None:
            return None
        model = find_realtime_model(self.realtime_model)
        try:
            return model.require_voice(self.talk_voice).name
        except UnknownVoiceError as error:
            raise ConfigError(f"OMNICORD_TALK_VOICE: {error}") from None

    @property
    def realtime_voice(self) -> str:
        """The voice of live talk: OMNICORD_TALK_VOICE, else the realtime model's default."""
        return self.talk_voice or find_realtime_model(self.realtime_model).default_voice

    @property
    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this process serves (None: all of them)."""
        return None if self.shard_ids_spec is None else parse_shard_ids(self.shard_ids_spec)

    def secret_values(self) -> list[str]:
        """What to mask by value wherever text leaves Omnicord: the key, the token and the
        passwords, tokens and keys in the URLs."""
        held = [secret.get_secret_value() for secret in (self.api_key, self.discord_token)
                if secret is not None]
        return [*held, *url_secrets(self.database), *url_secrets(self.base_url),
                *url_secrets(self.realtime_url)]

    @property
    def uses_postgresql(self) -> bool:
        """Whether OMNICORD_DB names a PostgreSQL database rather than a SQLite file."""
        return is_postgresql_url(self.database)

    @property
    def db_path(self) -> Path:
        """The SQLite file OMNICORD_DB names (``sqlite:///`` prefix optional)."""
        return sqlite_path(self.database)

    @property
    def media_cache_dir(self) -> Path:
        """Where prepared media is cached: OMNICORD_CACHE_DIR, else beside the SQLite database
        (in the working folder with PostgreSQL)."""
        if self.cache_dir:
            return self.cache_dir
        base = Path(".") if self.uses_postgresql else self.db_path.parent
        return base / "omnicord-media"

    def require_api_key(self) -> str:
        """The DashScope key, or a ConfigError saying how to set it."""
        if self.api_key is None:
            raise ConfigError(
                "DASHSCOPE_API_KEY is not set: put your Model Studio API key in the environment "
                "or in .env"
            )
        return self.api_key.get_secret_value()

    def require_discord_token(self) -> str:
        """The Discord bot token, or a ConfigError saying how to set it."""
        if self.discord_token is None:
            raise ConfigError(
                "DISCORD_TOKEN is not set: put your bot token from the Discord developer portal "
                "in the environment or in .env"
            )
        return self.discord_token.get_secret_value()


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """``0-3,8,10-11`` as sorted shard ids; ValueError on anything else."""
    ids: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError(f"bad shard range {part!r}: use ids and ranges like 0-3,8") from None
        if low < 0 or high < low:
            raise ValueError(f"bad shard range {part!r}: use ids and ranges like 0-3,8")
        ids.update(range(low, high + 1))
    if not ids:
        raise ValueError("names no shard: use ids and ranges like 0-3,8")
    return tuple(sorted(ids))


def _by_field(given: dict[str, Any]) -> dict[str, Any]:
    """``given`` keyed by attribute name, whether given by attribute or variable name."""
    chosen: dict[str, Any] = {}
    for key, value in given.items():
        field = _BY_NAME.get(key) or _BY_ALIAS.get(key)
        if field is None:
            raise TypeError(f"Settings has no setting {key!r}")
        chosen[field.name] = value
    return chosen


def _parsed(field: Field, raw: Any) -> Any:
    try:
        return field.parse(raw)
    except ValueError as error:
        raise ConfigError(_named(field.alias, str(error))) from None


def _named(alias: str, message: str) -> str:
    if message.startswith("OMNICORD_"):
        return message  # already names its setting
    if message[1:2].islower():  # a sentence continues after "NAME: "
        message = message[:1].lower() + message[1:]
    return f"{alias}: {message}"


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and ``env_file`` (default ``.env``); raise
    ConfigError naming a bad one. Their secrets are masked from now on: those read are masked
    even when another setting is wrong. The catalog in use becomes OMNICORD_MODELS_FILE's."""
    read: list[str] = []
    try:
        settings = Settings(env_file=env_file, secrets_read=read, **overrides)
    finally:
        register_secrets(*read)
    register_secrets(*settings.secret_values())
    install_models(settings.models_file)  # what every command and the bot start from
    return settings
