"""Where settings come from: the environment, an optional ``.env`` file, and NAME_FILE files.

Names are matched in any case; the environment wins over the file. A secret setting may instead
be read from the file its NAME_FILE names (the convention of Docker secrets and systemd
credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from omnicord.errors import ConfigError
from omnicord.secrets import url_secrets

#: Where settings are read from unless told otherwise (``--env-file``): the working folder's.
ENV_FILE = Path(".env")
#: Settings that can hold a secret, so may instead be read from the file NAME_FILE names (the
#: convention of Docker secrets and systemd credentials).
SECRET_FILE_SETTINGS = ("DASHSCOPE_API_KEY", "DISCORD_TOKEN", "OMNICORD_DB", "DASHSCOPE_BASE_URL")
#: Of those, the URLs: only the secrets in them are masked, not the whole value.
_URL_SETTINGS = ("OMNICORD_DB", "DASHSCOPE_BASE_URL")
ENVIRONMENT = "the environment"


def read_env_file(env_file: Path = ENV_FILE) -> dict[str, str]:
    """The variables ``env_file`` sets, names as written (none when there is no such file)."""
    if not env_file.is_file():
        return {}
    from dotenv import dotenv_values  # python-dotenv, only when there is a file to read

    try:
        values = dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file} is not UTF-8 text: save it with UTF-8 encoding") from None
    except OSError as error:
        raise ConfigError(f"cannot read {env_file}: {error.strerror or error}") from None
    return {key: value for key, value in values.items() if value is not None}


def read_environment(names: Iterable[str], env_file: Path = ENV_FILE) -> dict[str, str]:
    """These variables' values (names in any case) from the environment, else from
    ``env_file``. A secret setting
    whose source gives NAME_FILE instead of NAME is read from that file."""
    wanted = {name.lower(): name for name in names}
    from_file = _lowered(read_env_file(env_file))
    from_environment = _lowered(os.environ)
    found = {**from_file, **from_environment}
    layers = ((from_environment, ENVIRONMENT), (from_file, str(env_file)))
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
