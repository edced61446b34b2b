"""The table `make demo` prints, read in a 100-column terminal: every reason whole, the realized
accuracy in its column, a failed day marked in its row and explained once at the end."""

from mlops_assets.domain.demo_table import (
    WIDTH,
    DayRow,
    Happening,
    failure_summary,
    legend,
    render_table,
)

CLEAN = "feature drift none, estimate held; nothing to do"
RETRAIN_WHY = (
    "3 consecutive alarming days up to 2026-11-26; window: labelled days 2026-11-24..2026-11-26; "
    "realized performance drop on 2026-11-24, 2026-11-25, 2026-11-26"
)
BAD_FILE = (
    "/data/daily/2026-11-25.csv cannot be scored: column 'mean radius' is missing. Fix the day's "
    "file (the model needs the columns it was trained on, with the same types) and re-run the "
    "partition. (run 551d88df: `make ui` -> Runs)"
)


def _rows() -> list[DayRow]:
    return [
        DayRow(
            "2026-11-23",
            0.0,
            "none",
            0.912,
            "1",
            estimated_accuracy=0.781,
            estimate_trusted=True,
            labels_landed_on="2026-11-26",
            happenings=[Happening("no retraining", CLEAN)],
        ),
        DayRow(
            "2026-11-24",
            0.0,
            "none",
            0.905,
            "1",
            estimated_accuracy=0.779,
            estimate_trusted=True,
            happenings=[Happening("no retraining", CLEAN)],
        ),
        DayRow("2026-11-25", None, "failed", None, "", failure=BAD_FILE),
        DayRow(
            "2026-11-26",
            0.43,
            "critical",
            0.493,
            "1",
            performance_dropped=True,
            estimated_accuracy=0.69,
            estimate_trusted=True,
            estimated_dropped=True,
            happenings=[Happening("retrained -> v2 promoted", RETRAIN_WHY)],
        ),
        DayRow(
            "2026-11-27",
            0.43,
            "critical",
            None,
            "2",
            estimated_accuracy=0.7,
            awaiting_labels=True,
        ),
    ]


def _words(text: str) -> list[str]:
    return text.split()


def test_every_line_of_the_table_fits_100_columns_and_every_reason_is_whole():
    lines = render_table(_rows(), [Happening("retrained -> v3 promoted", "x " * 90)])
    assert lines and max(len(line) for line in lines) <= WIDTH, [
        line for line in lines if len(line) > WIDTH
    ]
    text = " ".join(lines)
    # The notes give each reason word for word (wrapped, never cut).
    for reason in (CLEAN, RETRAIN_WHY, "x " * 90):
        assert " ".join(_words(reason)) in " ".join(_words(text)), reason
    # Days with the same reason share one note.
    assert sum(line.startswith("[") and CLEAN in line for line in lines) == 1
    assert legend() and max(len(line) for line in legend()) <= WIDTH


def test_the_realized_accuracy_sits_in_its_column_once_labels_land():
    lines = render_table(_rows())
    by_day = {line[:10]: line for line in lines if line[:4] == "2026"}
    assert by_day["2026-11-23"].split()[4] == "0.912"
    assert by_day["2026-11-26"].split()[3:5] == ["0.690!", "0.493!"]
    # Not landed: a dot, never a placeholder word that hides the figure.
    assert by_day["2026-11-27"].split()[4] == "."
    assert "later" not in " ".join(lines)


def test_a_retraining_row_gives_its_reason():
    lines = render_table(_rows())
    row = next(line for line in lines if line.startswith("2026-11-26"))
    assert "retrained -> v2 promoted [" in row
    number = row.split("[")[1].split("]")[0]
    assert any(line.startswith(f"[{number}] 3 consecutive alarming days") for line in lines)


def test_a_failed_day_is_marked_in_the_table_with_its_file_and_column_and_named_at_the_end():
    rows = _rows()
    table = render_table(rows)
    row = next(line for line in table if line.startswith("2026-11-25"))
    assert "FAILED" in row and "not scored [" in row, row
    number = row.split("not scored [")[1].split("]")[0]
    note = " ".join(
        line.strip()
        for line in table[table.index(next(x for x in table if x.startswith(f"[{number}] "))) :]
    )
    assert f"[{number}] /data/daily/2026-11-25.csv cannot be scored: column 'mean radius'" in note
    # Said once: the table's note; the closing summary names the day and points at it.
    summary = failure_summary(rows)
    text = " ".join(table + summary)
    assert text.count("'mean radius' is missing") == 1
    assert " ".join(summary) == (
        f"1 of 5 days failed, the others were scored: 2026-11-25 (note [{number}])."
    )
    assert max(len(line) for line in table + summary) <= WIDTH
    assert failure_summary([r for r in rows if not r.failure]) == []


def test_what_happened_after_the_last_day_says_a_repeat_once():
    same = Happening("no retraining", CLEAN)
    lines = render_table(_rows()[:1], [same, same, Happening("retrained -> v3 promoted", "x")])
    after = next(line for line in lines if line.startswith("then"))
    assert after.count("no retraining") == 1 and "no retraining (x2) [1]" in after, after
    assert "retrained -> v3 promoted: x" in after or "retrained -> v3 promoted [" in after
