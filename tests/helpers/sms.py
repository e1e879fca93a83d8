"""What a user's phone receives: the file the SMS backend appends one JSON object a line to."""

from __future__ import annotations

import json
from pathlib import Path

from .waiting import wait_for


class SmsOutbox:
    """Reads what the file SMS backend wrote, as a user reads their phone."""

    def __init__(self, path: Path):
        self.path = path

    def messages(self, mobile: str | None = None, purpose: str | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:  # blank, or the line another process is appending right now
                continue
        return [
            m
            for m in rows
            if (mobile is None or m["mobile"] == mobile) and (purpose is None or m["purpose"] == purpose)
        ]

    def count(self, mobile: str, purpose: str) -> int:
        return len(self.messages(mobile, purpose))

    def last_code(self, mobile: str, purpose: str | None = None) -> str:
        found = self.messages(mobile, purpose)
        if not found:
            raise AssertionError(f"no SMS to {mobile}")
        return found[-1]["code"]

    def wait_code(self, mobile: str, purpose: str, *, after: int = 0) -> str:
        """The newest code to ``mobile`` for ``purpose`` among messages past the first ``after``,
        waiting for it to arrive (a server or worker in another process sends it)."""

        def newest():
            found = self.messages(mobile, purpose)[after:]
            return found[-1]["code"] if found else None

        return wait_for(newest, timeout=15, what=f"SMS code ({purpose}) to {mobile}")
