"""The documentation holds together: every relative link and anchor resolves, the README stays
short, and the README's test command is exactly the one ``.ci/run`` runs."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "RESULTS.md"]

FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code taken out."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced and not line.startswith("    "):
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-cased, punctuation other than
    ``-`` and ``_`` dropped, each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its label
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    kept = "".join(ch for ch in text
                   if ch in "-_ " or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def links(path: Path) -> list[str]:
    found = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        found += LINK.findall(INLINE_CODE.sub("", line))
    return found


def test_github_slug_follows_githubs_rules() -> None:
    assert github_slug("Privacy and your data") == "privacy-and-your-data"
    assert github_slug("Fast start-up") == "fast-start-up"
    assert github_slug("`omnicord ask`: the reply") == "omnicord-ask-the-reply"
    assert github_slug("What's new?") == "whats-new"
    assert github_slug("A [link](x.md) here") == "a-link-here"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert path.exists(), f"{path.relative_to(ROOT)} is missing"
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no file {file_part}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {file_part or path.name}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_docs_are_all_linked_from_the_readme() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve()
              for target in links(README) if not target.startswith("#")}
    missing = [str(p.relative_to(ROOT)) for p in DOCS[1:] if p.resolve() not in linked]
    assert not missing, f"README.md links none of {missing}"


def test_readme_is_under_300_lines() -> None:
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count < 300, f"README.md has {count} lines; move detail into docs/"


def _fenced_blocks(text: str) -> list[list[str]]:
    blocks, current = [], None
    for line in text.splitlines():
        if FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_readme_test_command_is_what_ci_runs() -> None:
    readme_commands = [block[0] for block in _fenced_blocks(README.read_text(encoding="utf-8"))
                       if block and "pytest" in block[0]]
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                   if "pytest" in line and not line.lstrip().startswith("#")]
    assert len(readme_commands) == 1, readme_commands
    assert len(ci_commands) == 1, ci_commands
    assert readme_commands[0] == ci_commands[0]


def test_every_setting_is_in_the_configuration_guide_and_env_example() -> None:
    from omnicord.settings import FIELDS

    root = Path(__file__).resolve().parents[1]
    guide = (root / "docs" / "configuration.md").read_text("utf-8")
    example = (root / ".env.example").read_text("utf-8")
    missing = [f.alias for f in FIELDS if f.alias not in guide or f.alias not in example]
    assert not missing, f"settings missing from docs/configuration.md or .env.example: {missing}"
