"""Quoting identifiers: the one function every statement's names pass through."""

from __future__ import annotations


def q(name: str) -> str:
    """Quote an identifier that came from the validated model (Name pattern: no quotes inside)."""
    assert name.replace("_", "a").replace(".", "a").replace("@", "a").isalnum(), name
    return f"`{name}`"
