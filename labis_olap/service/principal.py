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
    operator: bool = False
    """The operator of this installation (the `labis` commands on its machine, which hold its
    data directory anyway): every cube, unrestricted and unprotected. No credential makes one —
    authentication builds principals from roles and claims only; a role named like anything
    cannot turn this on."""

    @property
    def cache_key(self) -> Hashable:
        """What an answer may depend on: the roles and claims, not the subject's name (two
        analysts in the same role share cached answers)."""
        return (tuple(sorted(self.roles)), self.claims, self.operator)


ANONYMOUS = Principal("anonymous")
"""A request without credentials: every request in open demo mode (no identity provider and no
API keys), and, where the model declares the role `public`, one that sends none."""

OPERATOR = Principal("operator", roles=frozenset(), operator=True)
"""The `labis` commands on the installation's own machine (`labis query`, `labis mdx`, and the
server's /admin routes they call, which take the data directory's admin token)."""
