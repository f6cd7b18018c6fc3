"""Names of the tables that do not depend on the model: lineage, persons, a load's staging.

Model-derived names (facts, rollups, dimension tables and dictionaries) are in `layout`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.schema import PERSON_NAMESPACE

PERSONS = "persons"
"""The global person dictionary: pseudonym → dense number."""
IDENTIFIERS_PREFIX = "identifiers_"
"""`identifiers_<kind>`: the dictionary of one kind of identifier column (households, cases…)."""
LOADS = "loads"
"""Lineage: one row per status change of a batch."""
REJECTS = "rejects"
"""Rows a load refused, with the reason."""
SOURCE_STATE = "source_state"
"""What a fetched source looked like per batch (watermark range, column kinds)."""
MEMBER_ROWS = "member_rows"
"""Loaded dimension members: every version of every member, per batch (loaders/members.py)."""
MEMBERS_OWNER = "members:"
"""The lineage `cube` of a member load: `members:<dimension>`."""
_ = SOURCE_STATE
"""What a fetched source looked like per batch (watermark range, column kinds)."""
FACT_KEY = "__fact_key__"
"""The row id a facts answer carries (a keyed hash of the row, never a stored column)."""
MANAGED_PREFIXES = ("dim_", "dict_", "rollup_", "mv_")
"""Objects `apply` owns: one not named by the model any more is dropped."""


def pseudonym_table(namespace: str) -> str:
    """The global dictionary of one pseudonym namespace (pseudonym → dense number): `persons` for
    persons, as it always was, `identifiers_<kind>` for another kind of identifier."""
    return PERSONS if namespace == PERSON_NAMESPACE else f"{IDENTIFIERS_PREFIX}{namespace}"


def number_column(namespace: str) -> str:
    """The dense number's column in a namespace's dictionary."""
    return "person_num" if namespace == PERSON_NAMESPACE else "num"


def stage_key_column(column: str) -> str:
    """The staged column that carries a pseudonymous column's key into the batch's codes."""
    return f"{column}__key"


@dataclass(frozen=True)
class StageNames:
    """The tables of one batch in flight, named after the batch so a killed load's leftovers
    are found (and dropped) by the next attempt or an unload."""

    batch: str

    @property
    def table(self) -> str:
        """Checked rows, not yet visible."""
        return f"_load_stage_{self.batch}"

    @property
    def codes(self) -> str:
        """Staged key → namespace and pseudonym of each distinct identifier of the batch."""
        return f"_load_codes_{self.batch}"

    @property
    def persons_map(self) -> str:
        """Staged key → dense number in its namespace (a Join table, for joinGet while publishing;
        keys are unique across namespaces)."""
        return f"_load_persons_{self.batch}"

    @property
    def all(self) -> tuple[str, str, str]:
        return self.table, self.codes, self.persons_map


def rebuild_name(table: str) -> str:
    """The table a rollup is rebuilt into before it is exchanged with the live one."""
    return f"{table}__rebuild"


def view_name(table: str) -> str:
    """The materialized view that feeds a rollup from the facts."""
    return f"mv_{table}"


BACKUP_TOTALS = "backup_totals"
"""What each `labis backup` counted before it ran (table, total, value), kept in the database so
that the backup carries its own check: a restore recounts and compares."""
