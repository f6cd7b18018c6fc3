"""The record keys of the cell key method (docs/disclosure.md): one per pseudonym, read by
number. A view over a namespace's pseudonym dictionary computes each key from the pseudonym
(privacy.record_key_sql), and a hashed dictionary over the view serves them to the cell-key
queries by dense number; nothing is stored, so every person loaded so far has a key and a
reload cannot change one. The dictionary is reloaded before each computation (a load adds
persons)."""

from __future__ import annotations

from ..privacy import record_key_sql
from .names import number_column, pseudonym_table
from .quote import q
from .statement import Statement


def record_keys_name(namespace: str) -> str:
    """The view and dictionary of one namespace's record keys."""
    return f"record_keys_{namespace}"


def record_keys_statements(database: str, namespace: str) -> list[Statement]:
    name = record_keys_name(namespace)
    view = f"{name}_view"
    num = q(number_column(namespace))
    source = f"{q(database)}.{q(pseudonym_table(namespace))}"
    owner = f"record_keys:{namespace}"
    return [
        Statement(
            "view",
            view,
            f"CREATE VIEW IF NOT EXISTS {q(database)}.{q(view)} AS SELECT {num} AS `num`, "
            f"{record_key_sql('`pseudonym`')} AS `record_key` FROM {source}",
            owner,
        ),
        Statement(
            "dictionary",
            name,
            f"CREATE DICTIONARY IF NOT EXISTS {q(database)}.{q(name)} (`num` UInt64, `record_key` UInt8)\n"
            f"PRIMARY KEY `num`\nSOURCE(CLICKHOUSE(DB '{database}' TABLE '{view}'))\nLIFETIME(0)\n"
            "LAYOUT(HASHED())",
            owner,
        ),
    ]


def reload_statement(database: str, namespace: str) -> str:
    return f"SYSTEM RELOAD DICTIONARY {q(database)}.{q(record_keys_name(namespace))}"
