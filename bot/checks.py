"""One finding of ``omnicord doctor``: what was checked, how it went, and how to fix it.

The core's checks and the plugin's Discord checks (``omnicord.cogs.diagnose``) both
report ``Check`` lines, so this sits at the bottom of the package.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, NOTE, FAIL, SKIP = "ok", "note", "FAIL", "skip"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report. Only ``FAIL`` makes the report fail."""

    status: str
    subject: str
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        """Whether this check failed."""
        return self.status == FAIL

    def line(self) -> str:
        """``FAIL  subject: what is wrong — how to fix it``."""
        fix = f" — {self.fix}" if self.fix else ""
        return f"{self.status:<5} {self.subject}: {self.detail}{fix}"
