"""The message splitter on hostile text: it ends, fits Discord's limit and loses nothing."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest
from omnicord.cogs.delivery.split import CLOSE, split_message

from tests.conftest import REPO

_REOPEN = re.compile(r"\A```\S*\n")


def content(pieces: list[str]) -> str:
    """The pieces joined with the fence lines the splitter added removed."""
    joined = []
    for index, piece in enumerate(pieces):
        if index > 0 and pieces[index - 1].endswith(CLOSE):
            piece = _REOPEN.sub("", piece, count=1)
        if index < len(pieces) - 1 and piece.endswith(CLOSE):
            piece = piece[: -len(CLOSE)]
        joined.append(piece)
    return "".join(joined)


def assert_sound(text: str, limit: int = 2000) -> list[str]:
    pieces = split_message(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert content(pieces).replace("\n", "") == text.replace("\n", "")
    assert len(pieces) <= len(text) // (limit // 2) + 2
    return pieces


HOSTILE = [
    "```" + "x" * 1992 + "\nhello\n",  # used to never return
    "```" + "x" * 1993 + "\nhello\n",  # used to give a 7,200-character piece
    "```" + "x" * 1991 + "\n" + "y" * 5000,  # used to give 4,801 pieces
    "```" + "x" * 5000 + "\n" + "code\n" * 2000,
    "```python\n" + "z" * 9000,  # a fence, then no break at all
    "\n" * 10_000,
    "\r\n".join(["```js", *("let a = 1;" for _ in range(800)), "```"]),
    "```a\n```b\n```c\n" * 700,  # fences opening and closing everywhere
    "` `` ``` ```` " * 800,
    "😀" * 4500,
    "word " * 3000 + "```" + "q" * 4000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_split_soundly(text: str) -> None:
    assert_sound(text)


def test_random_text_with_fences_is_split_soundly() -> None:
    alphabet = ["a", "b", " ", "\n", "\n\n", ". ", "```", "```py\n", "`", "x" * 50, "é", "\t"]
    generator = random.Random(8)
    for _ in range(300):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randrange(1, 1500)))
        limit = generator.choice([64, 100, 2000])
        assert_sound(text, limit)


def test_a_split_code_block_is_reopened_with_its_language() -> None:
    text = "```python\n" + "print(1)\n" * 500
    pieces = assert_sound(text)
    assert all(p.count("```") % 2 == 0 for p in pieces[:-1])
    assert pieces[1].startswith("```python\n")
    huge_language = assert_sound("```" + "x" * 40 + "\n" + "line\n" * 1000)
    assert huge_language[1].startswith("```\n")  # an implausible language is not repeated


def test_a_megabyte_of_hostile_text_splits_promptly() -> None:
    code = (
        "from omnicord.cogs.delivery.split import split_message\n"
        "for text in ['```' + 'x' * 1992 + '\\nhello\\n' * 100_000, '\\n' * 2_000_000,\n"
        "             '```' + 'y' * 2_000_000]:\n"
        "    assert all(len(p) <= 2000 for p in split_message(text))\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
