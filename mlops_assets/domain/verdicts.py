"""The words a verdict is made of, as types: how severe a day is, and which metric judged it.

Both cross modules (the drift and data-quality rules write a severity, the checks, the sensors
and the retraining rules read it back from metadata), so each has one definition here. They are
StrEnums: a member is its string (metadata, tags and JSON keep the words they always had, and
`Severity.CRITICAL == "critical"`), but Dagster's serializer refuses enums it does not know,
so what goes into Dagster metadata is the member's `.value`.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """A day's severity (feature drift, data quality), from harmless to act-now."""

    NONE = "none"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0, 1, 2 in the order above: a worse severity ranks higher."""
        return list(Severity).index(self)

    @classmethod
    def read(cls, value: object, where: str) -> Severity:
        """The severity stored as `value`, or a ValueError naming `where` it was read from."""
        try:
            return cls(str(value))
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"{where}: severity {value!r} is none of {known}.") from None


def worst(*severities: Severity) -> Severity:
    """The highest of the severities; NONE when there are none."""
    return max(severities, key=lambda severity: severity.rank, default=Severity.NONE)


class Metric(StrEnum):
    """The metric a day's performance verdict judges: accuracy (a classifier, realized or
    estimated), RMSE (a regressor's realized error), MAE (a regressor's estimated error)."""

    ACCURACY = "accuracy"
    RMSE = "rmse"
    MAE = "mae"

    @classmethod
    def read(cls, value: object, where: str) -> Metric:
        """The metric stored as `value`, or a ValueError naming `where` it was read from."""
        try:
            return cls(str(value))
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"{where}: metric {value!r} is none of {known}.") from None
