"""Token and byte budgets for one request.

Text is estimated conservatively (never under-counted): ASCII at 3 characters per token, every
other character as a token of its own. Media use the seed formulas via ``omnicord.media.tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnicord.errors import InputError
from omnicord.i18n import Text, text
from omnicord.media.types import REQUEST_MEDIA_BUDGET
from omnicord.model.catalog import ModelSpec

#: Tokens kept free for the reply (the API counts input and output against the context).
DEFAULT_REPLY_RESERVE = 2_048
MESSAGE_OVERHEAD_TOKENS = 4  # role markers and separators per message


class BudgetExceeded(InputError):
    """The newest message alone cannot fit the model's input."""


def over_tokens(tokens: int, limit: int) -> Text:
    """Why a message cannot be sent: about ``tokens`` tokens, over the model's ``limit``."""
    return text("errors.too_many_tokens", tokens=tokens, limit=limit)


def over_bytes(inline_bytes: int, limit: int) -> Text:
    """Why attachments cannot be sent: ``inline_bytes`` encoded, over a request's ``limit``."""
    return text("errors.attachments_too_big", size=round(inline_bytes / 1e6, 1),
                limit=round(limit / 1e6, 1))


@dataclass(frozen=True)
class Budget:
    """What one request may hold."""

    max_tokens: int
    max_inline_bytes: int = REQUEST_MEDIA_BUDGET

    @classmethod
    def for_model(
        cls, model: ModelSpec, *, thinking: bool = False,
        reply_reserve: int = DEFAULT_REPLY_RESERVE,
        max_inline_bytes: int = REQUEST_MEDIA_BUDGET,
    ) -> Budget:
        """The model's input limit in this mode, less room for the reply."""
        limit = model.input_limit(thinking=thinking)
        reserve = min(reply_reserve, model.max_output, limit // 4)
        return cls(max_tokens=limit - reserve, max_inline_bytes=max_inline_bytes)


@dataclass
class Tally:
    """Running totals while a request is assembled."""

    budget: Budget
    tokens: int = 0
    inline_bytes: int = 0

    def fits(self, tokens: int, inline_bytes: int = 0) -> bool:
        """Whether this much more still fits."""
        return (
            self.tokens + tokens <= self.budget.max_tokens
            and self.inline_bytes + inline_bytes <= self.budget.max_inline_bytes
        )

    def take(self, tokens: int, inline_bytes: int = 0) -> None:
        """Count this much in."""
        self.tokens += tokens
        self.inline_bytes += inline_bytes
