"""The table `make demo` prints: one row per scored day, readable in a 100-column terminal.

A reason is often longer than a row has room for (the retraining sensor's skip reasons, a bad
file's error): the row then shows a short summary and a note number, and the notes below the
table give each reason in full, wrapped, once (days with the same reason share its note). A
day that could not be scored is FAILED in its row, its note names the file, the column and the
run; the closing summary names the failed days and their notes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 100
# date, drift share, severity, estimate, realized, model: the event column gets the rest.
_COLUMNS = ((10, "<"), (5, ">"), (8, ">"), (6, ">"), (6, ">"), (5, ">"))
_EVENT_INDENT = sum(width for width, _ in _COLUMNS) + len(_COLUMNS) + 1


@dataclass(frozen=True)
class Happening:
    """Something that happened after a day was scored: `summary` fits in a row, `reason` is the
    full why (a note below the table when the two do not fit the row together)."""

    summary: str
    reason: str = ""

    def text(self) -> str:
        return f"{self.summary}: {self.reason}" if self.reason else self.summary


@dataclass
class DayRow:
    day: str
    drifted_share: float | None
    severity: str
    accuracy: float | None
    """The realized accuracy: on the day with labels in the batch, else when they land."""
    model_version: str
    performance_dropped: bool = False
    happenings: list[Happening] = field(default_factory=list)
    estimated_accuracy: float | None = None
    estimate_trusted: bool = False
    estimated_dropped: bool = False
    labels_landed_on: str = ""
    """The scored day after which this day's labels landed ("" with labels in the batch)."""
    estimate_error: float | None = None
    awaiting_labels: bool = False
    """Scored without labels, which a label feed is expected to deliver later."""
    failure: str = ""
    """Why the day could not be scored ("" when it was): the file, the column, what to do."""

    @property
    def event(self) -> str:
        """Everything that happened after the day, in full."""
        return "; ".join(happening.text() for happening in self.happenings)


def header() -> str:
    names = ("date", "drift", "severity", "est.", "real.", "model")
    return _cells(names) + "event"


def legend(width: int = WIDTH) -> list[str]:
    return textwrap.wrap(
        "drift: share of drifted features; est.: accuracy estimated without labels "
        "('!' dropped, '?' not trusted); real.: accuracy on the day's labels once they land "
        "('!' dropped, '.' not landed, '-' none expected); [n]: a note below the table.",
        width=width,
    )


def render_table(
    rows: Sequence[DayRow], after_last: Sequence[Happening] = (), width: int = WIDTH
) -> list[str]:
    """The table's lines, none wider than `width` but for a word longer than it (a file's
    path): a header, one line per row, what happened after the last day (the labels still due
    landing), then the numbered notes."""
    lines, notes = _layout(rows, after_last, width)
    if notes:
        lines.append("")
        for number, note in enumerate(notes, start=1):
            marker = f"[{number}] "
            lines.extend(
                textwrap.wrap(
                    note,
                    width=width,
                    initial_indent=marker,
                    subsequent_indent=" " * len(marker),
                    break_on_hyphens=False,
                    # A file's path stays whole, to be copied, even past the width.
                    break_long_words=False,
                )
            )
    return lines


def failure_summary(
    rows: Sequence[DayRow], after_last: Sequence[Happening] = (), width: int = WIDTH
) -> list[str]:
    """The closing lines when days failed: which days, each with the table's note that says
    why (its file, its column, its run), so a reason is printed once."""
    failed = [row for row in rows if row.failure]
    if not failed:
        return []
    _, notes = _layout(rows, after_last, width)
    named = [
        f"{row.day} (note [{notes.index(row.failure) + 1}])"
        if row.failure in notes
        else f"{row.day} (its row)"
        for row in failed
    ]
    return textwrap.wrap(
        f"{len(failed)} of {len(rows)} days failed, the others were scored: {', '.join(named)}.",
        width=width,
    )


def _layout(
    rows: Sequence[DayRow], after_last: Sequence[Happening], width: int
) -> tuple[list[str], list[str]]:
    """The table's header and rows, and the notes their long reasons went to, in order."""
    notes: list[str] = []
    lines = [header()]
    event_width = width - _EVENT_INDENT
    for row in rows:
        happenings = row.happenings
        if row.failure:
            happenings = [Happening("not scored", row.failure), *happenings]
        lines.append((_cells(_values(row)) + _event(happenings, event_width, notes)).rstrip())
    if after_last:
        lead = "then, as the labels still due land: "
        lines.append((lead + _event(_once(after_last), width - len(lead), notes)).rstrip())
    return lines, notes


def _values(row: DayRow) -> tuple[str, ...]:
    if row.failure:
        return (row.day, "-", "FAILED", "-", "-", "-")
    estimate = "-"
    if row.estimated_accuracy is not None:
        mark = "!" if row.estimated_dropped else "" if row.estimate_trusted else "?"
        estimate = f"{row.estimated_accuracy:.3f}"[: 6 - len(mark)] + mark
    realized = "." if row.awaiting_labels else "-"
    if row.accuracy is not None:
        realized = f"{row.accuracy:.3f}" + ("!" if row.performance_dropped else "")
    share = "-" if row.drifted_share is None else f"{row.drifted_share:.2f}"
    return (row.day, share, row.severity, estimate, realized[:6], f"v{row.model_version}")


def _once(happenings: Sequence[Happening]) -> list[Happening]:
    """Repeats in a row said once, with how many times."""
    said: list[tuple[Happening, int]] = []
    for happening in happenings:
        if said and said[-1][0] == happening:
            said[-1] = (happening, said[-1][1] + 1)
        else:
            said.append((happening, 1))
    return [h if n == 1 else Happening(f"{h.summary} (x{n})", h.reason) for h, n in said]


def _cells(values: Sequence[str]) -> str:
    cells = zip(values, _COLUMNS, strict=True)
    return " ".join(f"{value:{align}{width}}" for value, (width, align) in cells) + "  "


def _event(happenings: Sequence[Happening], width: int, notes: list[str]) -> str:
    """The row's event cell: the full text when it fits, else each summary with the number of
    the note that holds its reason."""
    full = "; ".join(happening.text() for happening in happenings)
    if len(full) <= width:
        return full
    parts = []
    for happening in happenings:
        if not happening.reason:
            parts.append(happening.summary)
            continue
        if happening.reason not in notes:
            notes.append(happening.reason)
        parts.append(f"{happening.summary} [{notes.index(happening.reason) + 1}]")
    cell = "; ".join(parts)
    return cell if len(cell) <= width else cell[: width - 3] + "..."
