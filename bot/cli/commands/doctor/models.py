"""The doctor's models-file line: how many entries OMNICORD_MODELS_FILE adds, or one FAIL line
for each of its mistakes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from omnicord.checks import FAIL, OK, Check

if TYPE_CHECKING:
    from omnicord.settings import Settings

SUBJECT = "models file"
FIX = "docs/models.md describes every key"


def check_models_file(env_file: Path, settings: Settings | None) -> list[Check]:
    """Nothing without a models file; else its entries, or (when the settings did not load
    because of it) each of its mistakes."""
    from omnicord.environment import read_environment
    from omnicord.model.models_file import ModelsFileError, entries, read_catalog

    if settings is not None:
        path = settings.models_file
    else:
        given = read_environment(["OMNICORD_MODELS_FILE"], env_file).get(
            "OMNICORD_MODELS_FILE", "").strip()
        path = Path(given) if given else None
    if path is None:
        return []
    try:
        catalog = read_catalog(path)
    except ModelsFileError as error:
        return [Check(FAIL, SUBJECT, problem, FIX) for problem in error.problems]
    added = entries(catalog.models)
    names = ", ".join(model.name for model in added) or "none"
    return [Check(OK, SUBJECT, f"{path}: {len(added)} entries loaded ({names})")]
