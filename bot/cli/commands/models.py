"""``omnicord models [--json]``: the model catalog in use, the models file's entries included,
and where each entry came from (no media, no asyncio: it starts fast)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from omnicord.cli.output import EXIT_OK

if TYPE_CHECKING:
    from omnicord.model.catalog import ModelSpec
    from omnicord.settings import Settings


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord models``."""
    models = commands.add_parser(
        "models", help="list the models Omnicord knows and where each came from",
        description="List every model of the catalog: the built-ins and the entries of "
        "OMNICORD_MODELS_FILE (see docs/models.md), with their kind, token limits, voices, "
        "prices and aliases, and where each entry came from.",
    )
    models.add_argument("--json", action="store_true", help="one JSON document, for machines")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the catalog (the settings loaded it)."""
    from omnicord.model.catalog import all_models

    models = all_models()
    if args.json:
        import json

        print(json.dumps({"models": [describe(model) for model in models]}, indent=2))
        return EXIT_OK
    for model in models:
        print(_line(model))
    return EXIT_OK


def describe(model: ModelSpec) -> dict[str, Any]:
    """One entry as plain data."""
    return {
        "name": model.name,
        "kind": model.kind,
        "origin": model.origin,
        "aliases": list(model.aliases),
        "input": [name for name, rules in (("text", True), ("image", model.image),
                                           ("audio", model.audio), ("video", model.video))
                  if rules],
        "context_window": model.context_window,
        "max_input": model.max_input,
        "max_output": model.max_output,
        "max_input_thinking": model.max_input_thinking,
        "voices": list(model.voice_names()),
        "audio_output_rate": model.audio_output_rate,
        "prices": {region: {"input_per_million": price.input_per_million,
                            "output_per_million": price.output_per_million}
                   for region, price in model.prices.items()},
    }


def _line(model: ModelSpec) -> str:
    data = describe(model)
    thinking = (f", thinking input {model.max_input_thinking:,}"
                if model.max_input_thinking else "")
    prices = "; ".join(f"{region} ${p['input_per_million']:g}/${p['output_per_million']:g}"
                       for region, p in data["prices"].items()) or "prices unknown"
    aliases = f"  aliases: {', '.join(model.aliases)}" if model.aliases else ""
    return (f"{model.name}\t{model.kind}\tcontext {model.context_window:,}, input "
            f"{model.max_input:,}{thinking}, output {model.max_output:,}\t"
            f"input {'+'.join(data['input'])}\t{len(model.voices)} voices\t{prices}\t"
            f"from {model.origin}{aliases}")
