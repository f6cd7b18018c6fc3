"""Who is asking: the principal every request of every front end carries into the service."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

PUBLIC_ROLE = "public"


@dataclass(frozen=True)
class Principal:
    """A user or program with the roles it holds and the token claims row filters bind to.

    Frozen and hashable: the principal is part of every cache key, so that one role's cached
    answer is never served to another."""

    subject: str
    roles: frozenset[str] = frozenset({PUBLIC_ROLE})
    claims: tuple[tuple[str, str], ...] = field(default=())
    """Claims a policy may bind to (sorted name/value pairs)."""

    @property
    def cache_key(self) -> Hashable:
        """What an answer may depend on: the roles and claims, not the subject's name (two
        analysts in the same role share cached answers)."""
        return (tuple(sorted(self.roles)), self.claims)


ANONYMOUS = Principal("anonymous")
"""Every request while no identity provider is configured (open demo mode)."""
