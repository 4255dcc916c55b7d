"""What one list import took and what it left out, and why.

Every import of a list source ends with an ``ImportReport``: how many names
it took, and for each reason it skipped something (an IP address, a
duplicate, an adblock cosmetic rule...) how many and the first example with
its line number, so that an operator can open the file at that line. This
module only counts and formats; it never reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_EXAMPLE = 80
"""Characters of an example kept in a report: enough to recognise the line."""


@dataclass(slots=True)
class ImportReport:
    """The outcome of reading one list source."""

    source: str
    """The file name as given (or the member path inside an archive)."""
    taken: int = 0
    """Distinct valid names taken from the source."""
    skipped: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Reason -> (count, first example with its line number, ``line 12: 10.0.0.1``)."""
    format: str | None = None
    """The source format (``domains``, ``hosts``...), detected or as given."""

    def skip(self, reason: str, example: str) -> None:
        """Count one skipped entry; the first example of each reason is kept."""
        found = self.skipped.get(reason)
        if found is None:
            self.skipped[reason] = (1, example)
        else:
            self.skipped[reason] = (found[0] + 1, found[1])

    @property
    def skipped_total(self) -> int:
        """Entries skipped for any reason."""
        return sum(count for count, _ in self.skipped.values())

    def summary(self) -> str:
        """A short report: names taken, then each reason with its count and first example."""
        kind = f" ({self.format})" if self.format else ""
        lines = [f"{self.source}{kind}: {self.taken} names taken, {self.skipped_total} skipped"]
        # Most frequent reason first: that is the one worth a look.
        for reason, (count, example) in sorted(
            self.skipped.items(), key=lambda item: (-item[1][0], item[0])
        ):
            lines.append(f"  {reason}: {count} (first: {example})")
        return "\n".join(lines)


def show(text: str) -> str:
    """Make a piece of a list line safe and short for a report.

    Control characters are escaped (a hostile list must not drive the
    operator's terminal) and long lines are cut.
    """
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
    if len(text) > MAX_EXAMPLE:
        text = text[: MAX_EXAMPLE - 3] + "..."
    return text


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
