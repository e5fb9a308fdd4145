"""Settings from environment variables and an optional ``.env`` file.

``load_settings()`` turns every problem into a ``ConfigError`` whose message names the setting,
so the command line can print one clear line instead of a traceback, and masks the secrets it
read. A ``Settings`` holds values only: building one (in a test, or a host bot) changes nothing
else; ``omnicord.build`` masks its secrets when Omnicord builds anything from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from omnicord.errors import ConfigError
from omnicord.model.catalog import (
    DEFAULT_CAPTION_MODEL,
    DEFAULT_CHAT_MODEL,
    DEFAULT_VOICE,
    find_model,
)
from omnicord.secrets import register as register_secrets
from omnicord.secrets import url_password, url_secrets
from omnicord.store.urls import is_postgresql_url, sqlite_path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

DEFAULT_BASE_URL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


#: Where settings are read from unless told otherwise (``--env-file``): the working folder's.
ENV_FILE = Path(".env")
#: Settings that can hold a secret, so may instead be read from the file NAME_FILE names (the
#: convention of Docker secrets and systemd credentials).
SECRET_FILE_SETTINGS = ("DASHSCOPE_API_KEY", "DISCORD_TOKEN", "OMNICORD_DB", "DASHSCOPE_BASE_URL")
#: Of those, the URLs: only the secrets in them are masked, not the whole value.
_URL_SETTINGS = ("OMNICORD_DB", "DASHSCOPE_BASE_URL")
#: OMNICORD_* names of the test suite's and the benchmarks' own (OMNICORD_TEST_POSTGRES, …).
_OTHER_PREFIXES = ("omnicord_test_", "omnicord_bench_")
_ENVIRONMENT = "the environment"


def read_env_file(env_file: Path = ENV_FILE) -> dict[str, str]:
    """The variables ``env_file`` sets, names as written (none when there is no such file)."""
    if not env_file.is_file():
        return {}
    from dotenv import dotenv_values  # python-dotenv, only when there is a file to read

    try:
        values = dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError:  # raised as ConfigError: pydantic would wrap a ValueError
        raise ConfigError(f"{env_file} is not UTF-8 text: save it with UTF-8 encoding") from None
    except OSError as error:
        raise ConfigError(f"cannot read {env_file}: {error.strerror or error}") from None
    return {key: value for key, value in values.items() if value is not None}


def read_environment(names: Iterable[str], env_file: Path = ENV_FILE) -> dict[str, str]:
    """These variables' values (names in any case) from the environment, else from
    ``env_file``: what pydantic-settings read, without its 30 ms of imports. A secret setting
    whose source gives NAME_FILE instead of NAME is read from that file."""
    wanted = {name.lower(): name for name in names}
    from_file = _lowered(read_env_file(env_file))
    from_environment = _lowered(os.environ)
    found = {**from_file, **from_environment}
    layers = ((from_environment, _ENVIRONMENT), (from_file, str(env_file)))
    for name in SECRET_FILE_SETTINGS:
        if name.lower() in wanted:
            found.update(_secret_from_file(name, layers))
    return {name: found[key] for key, name in wanted.items() if key in found}


def _lowered(variables: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in variables.items()}


def _secret_from_file(name: str, layers: Iterable[tuple[dict[str, str], str]]
                      ) -> dict[str, str]:
    """``{name: the file's text}`` when the first source that sets NAME or NAME_FILE (the
    environment, then the env file) sets NAME_FILE; ConfigError when it sets both."""
    key, file_key = name.lower(), f"{name}_file".lower()
    for layer, where in layers:
        has_value = bool(layer.get(key, "").strip())
        has_file = bool(layer.get(file_key, "").strip())
        if has_value and has_file:
            raise ConfigError(f"{name} and {name}_FILE are both set in {where}: keep one")
        if has_file:
            return {key: read_secret_file(f"{name}_FILE", layer[file_key].strip())}
        if has_value:
            return {}
    return {}


def read_secret_file(setting: str, path: str) -> str:
    """The secret in the file ``setting`` names, one trailing newline dropped; ConfigError
    naming ``setting``."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{setting}: cannot read {path}: {error.strerror or error}") from None
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{setting}: {path} is not UTF-8 text") from None
    value = value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value
    if not value.strip():
        raise ConfigError(f"{setting}: {path} is empty")
    return value


def secrets_among(values: Mapping[str, str]) -> list[str]:
    """The secrets among settings' values by name (the URLs' passwords, tokens and keys)."""
    found: list[str] = []
    for name in SECRET_FILE_SETTINGS:
        value = values.get(name)
        if value:
            found += url_secrets(value) if name in _URL_SETTINGS else [value]
    return found


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


def known_names() -> list[str]:
    """Every variable Omnicord reads, as documented (upper case)."""
    aliases = [field.alias for field in Settings.model_fields.values() if field.alias]
    return [*aliases, *(f"{name}_FILE" for name in SECRET_FILE_SETTINGS)]


def unknown_settings(env_file: Path = ENV_FILE) -> list[UnknownSetting]:
    """Each OMNICORD_* name (in any case) in the environment or ``env_file`` that Omnicord
    does not read: a typo that would otherwise be silently ignored."""
    known = known_names()
    lowered = {name.lower() for name in known}
    found: dict[str, UnknownSetting] = {}
    sources = ((os.environ, _ENVIRONMENT), (read_env_file(env_file), str(env_file)))
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


class Settings(BaseModel):
    """Every setting Omnicord reads. Field aliases are the environment variable names; a value
    given to ``Settings(...)`` wins over the environment, which wins over ``.env``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        aliases = {name: field.alias or name for name, field in cls.model_fields.items()}
        given = {aliases.get(key, key): value for key, value in data.items()}
        context = info.context or {}
        unset = [alias for alias in aliases.values() if alias not in given]
        found = read_environment(unset, context.get("env_file") or ENV_FILE)
        if (read := context.get("secrets_read")) is not None:  # load_settings masks them
            read += secrets_among(found)
        return {**found, **given}

    api_key: SecretStr | None = Field(default=None, alias="DASHSCOPE_API_KEY")
    base_url: str = Field(default=DEFAULT_BASE_URL, alias="DASHSCOPE_BASE_URL")
    model: str = Field(default=DEFAULT_CHAT_MODEL, alias="OMNICORD_MODEL")
    voice: str = Field(default=DEFAULT_VOICE, alias="OMNICORD_VOICE")
    caption_model: str = Field(default=DEFAULT_CAPTION_MODEL, alias="OMNICORD_CAPTION_MODEL")
    database: str = Field(default="omnicord.db", alias="OMNICORD_DB")
    db_pool_size: int = Field(default=10, ge=1, le=1000, alias="OMNICORD_DB_POOL_SIZE")
    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    request_timeout: float = Field(default=120.0, gt=0, alias="OMNICORD_REQUEST_TIMEOUT")
    max_retries: int = Field(default=2, ge=0, le=10, alias="OMNICORD_MAX_RETRIES")
    ffmpeg: str | None = Field(default=None, alias="OMNICORD_FFMPEG")
    cache_dir: Path | None = Field(default=None, alias="OMNICORD_CACHE_DIR")
    cache_max_mb: int = Field(default=500, ge=0, alias="OMNICORD_CACHE_MAX_MB")
    cache_max_days: float = Field(default=7, ge=0, alias="OMNICORD_CACHE_MAX_DAYS")
    max_input_mb: int = Field(default=500, gt=0, alias="OMNICORD_MAX_INPUT_MB")
    text_limit: int = Field(default=20_000, gt=0, alias="OMNICORD_TEXT_LIMIT")
    reply_mode: str = Field(default="auto", alias="OMNICORD_REPLY_MODE")
    daily_token_cap: int = Field(default=0, ge=0, alias="OMNICORD_DAILY_TOKEN_CAP")
    cooldown_seconds: float = Field(default=3.0, ge=0, alias="OMNICORD_COOLDOWN_SECONDS")
    guild_concurrency: int = Field(default=4, ge=0, alias="OMNICORD_GUILD_CONCURRENCY")
    process_replies: int = Field(default=32, ge=1, le=10_000, alias="OMNICORD_PROCESS_REPLIES")
    prices: str = Field(default="", alias="OMNICORD_PRICES")
    upstream_rpm: int = Field(default=0, ge=0, alias="OMNICORD_UPSTREAM_RPM")
    allow_dms: bool = Field(default=True, alias="OMNICORD_ALLOW_DMS")
    retention_days: int = Field(default=0, ge=0, le=36_500, alias="OMNICORD_RETENTION_DAYS")
    shard_count: int | None = Field(default=None, ge=1, alias="OMNICORD_SHARD_COUNT")
    shard_ids_spec: str | None = Field(default=None, alias="OMNICORD_SHARD_IDS")
    shutdown_grace: float = Field(default=20.0, ge=0, le=3600, alias="OMNICORD_SHUTDOWN_GRACE")
    log_level: str = Field(default="INFO", alias="OMNICORD_LOG_LEVEL")
    log_file: Path | None = Field(default=None, alias="OMNICORD_LOG_FILE")
    message_content: bool = Field(default=True, alias="OMNICORD_MESSAGE_CONTENT")

    @field_validator("api_key", "discord_token", "cache_dir", "ffmpeg", "log_file", mode="before")
    @classmethod
    def _blank_secret_is_missing(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database", mode="before")
    @classmethod
    def _check_database(cls, value: Any) -> str:
        text = str(value).strip()
        if not text:
            raise ValueError("must be a SQLite file path or a postgresql:// URL")
        return text

    @field_validator("shard_count", "shard_ids_spec", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("retention_days", mode="before")
    @classmethod
    def _blank_keeps_everything(cls, value: Any) -> Any:
        return 0 if isinstance(value, str) and not value.strip() else value

    @field_validator("shard_ids_spec")
    @classmethod
    def _check_shard_ids(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shard_ids(value)
        return value

    @property
    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this process serves (None: all of them)."""
        return None if self.shard_ids_spec is None else parse_shard_ids(self.shard_ids_spec)

    @model_validator(mode="after")
    def _check_shards(self) -> Settings:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("OMNICORD_SHARD_IDS needs OMNICORD_SHARD_COUNT (the total)")
            outside = [i for i in self.shard_ids if i >= self.shard_count]
            if outside:
                raise ValueError(f"OMNICORD_SHARD_IDS: shard {outside[0]} is not below "
                                 f"OMNICORD_SHARD_COUNT={self.shard_count}")
        return self

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parsed = urlparse(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http(s) URL such as " + DEFAULT_BASE_URL)
        password = url_password(value.strip())
        if password and any(char in password for char in "@/?#"):
            raise ValueError("percent-encode the special characters of its password (%40 for "
                             "@, %2F for /, %3F for ?, %23 for #)")
        try:
            _ = parsed.port  # a port that is not a number raises ValueError
        except ValueError:
            raise ValueError("its port is not a number") from None
        return value.strip().rstrip("/")

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        find_model(value, "chat")  # an unknown model is a ValueError pydantic reports
        return value.strip()

    @field_validator("caption_model")
    @classmethod
    def _check_caption_model(cls, value: str) -> str:
        find_model(value, "captioner")
        return value.strip()

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: Any) -> str:
        level = "INFO" if value is None or not str(value).strip() else str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
        return level

    @field_validator("reply_mode")
    @classmethod
    def _check_reply_mode(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("text", "voice", "both", "auto"):
            raise ValueError("must be text, voice, both or auto")
        return value

    @field_validator("prices")
    @classmethod
    def _check_prices(cls, value: str) -> str:
        if not value.strip():
            return value  # nothing to parse: the usage policy (and the store) need not load
        from omnicord.policy.usage import parse_prices

        try:
            parse_prices(value)
        except ValueError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _check_voice(self) -> Settings:
        model = find_model(self.model, "chat")
        voice = model.find_voice(self.voice)
        if voice is None:
            raise ValueError(
                f"OMNICORD_VOICE: {model.name} has no voice {self.voice!r} "
                f"(choose from {', '.join(model.voice_names())})"
            )
        self.voice = voice.name
        return self

    def secret_values(self) -> list[str]:
        """What to mask by value wherever text leaves Omnicord: the key, the token and the
        passwords, tokens and keys in the URLs."""
        held = [secret.get_secret_value() for secret in (self.api_key, self.discord_token)
                if secret is not None]
        return [*held, *url_secrets(self.database), *url_secrets(self.base_url)]

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


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = first.get("loc") or ()
    field_name = str(location[0]) if location else ""
    field = Settings.model_fields.get(field_name)
    name = (field.alias if field and field.alias else field_name) or "settings"
    message = str(first.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if message.startswith("OMNICORD_"):
        return message  # already names its setting
    if message[1:2].islower():  # a sentence continues after "NAME: "
        message = message[:1].lower() + message[1:]
    return f"{name}: {message}"


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and ``env_file`` (default ``.env``); raise
    ConfigError naming a bad one. Their secrets are masked from now on: those read are masked
    even when another setting is wrong."""
    read: list[str] = []
    try:
        settings = Settings.model_validate(overrides, context={"env_file": env_file,
                                                               "secrets_read": read})
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    finally:
        register_secrets(*read)
    register_secrets(*settings.secret_values())
    return settings
