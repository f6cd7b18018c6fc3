"""Roles checked against the cubes they grant (codes E120–E124, docs/model.md).

A grant that names nothing real is refused at `labis validate`, never found out at request time
as a role that silently sees more (or less) than its author meant.
"""

from __future__ import annotations

import re

from ..errors import QueryError, UserError
from .cut_grammar import escape, parse_cuts
from .definition import Model
from .diagnostics import Diagnostics, did_you_mean
from .resolve import check_cuts, resolvable, unknown_members
from .schema import Cube, CubeGrant, Role, RollupPolicy
from .source import NodePath, SourceDoc

CLAIM = re.compile(r"\{([^{}]*)\}")
CLAIM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
ALL_CUBES = "*"


def claim_names(text: str) -> list[str]:
    """The claims a row filter names, `{municipality}` → `municipality`."""
    return CLAIM.findall(text)


MAX_EXPANSIONS = 256
"""The most filters one row filter becomes with several values of its claims."""


def with_claims(text: str, claims: dict[str, list[str]]) -> list[str] | None:
    """The row filter with each `{claim}` replaced by the principal's values — one filter per
    combination of values of a claim that has several —, escaped for the cut grammar (so a
    claim's value can never add a cut of its own); None when a claim is missing."""
    names = list(dict.fromkeys(claim_names(text)))
    if any(not claims.get(c) for c in names):
        return None
    out = [text]
    for name in names:
        out = [t.replace("{" + name + "}", escape(v)) for t in out for v in claims[name]]
        if len(out) > MAX_EXPANSIONS:  # refused rather than cut: a cut list would hide rows
            raise QueryError(
                f"your credentials carry more than {MAX_EXPANSIONS} combinations of the claims "
                f"a row filter names ({', '.join(names)})",
                hint="ask the administrator for a role whose filter fits",
            )
    return out


def validate_roles(model: Model, diags: Diagnostics) -> None:
    for role in model.roles.values():
        doc = model.docs[("role", role.name)]
        for i, grant in enumerate(role.cubes):
            base: NodePath = ("cubes", i)
            if grant.cube == ALL_CUBES:
                cubes = list(model.cubes.values())
            elif grant.cube in model.cubes:
                cubes = [model.cubes[grant.cube]]
            elif ("cube", grant.cube) in model.unreadable:
                continue  # its file could not be read: reported there
            else:
                diags.add(
                    "E120",
                    f"role '{role.name}': unknown cube '{grant.cube}'",
                    doc.loc((*base, "cube")),
                    did_you_mean(grant.cube, model.cubes),
                )
                continue
            _check_grant(model, role, grant, cubes, doc, base, diags)


def _check_grant(
    model: Model,
    role: Role,
    grant: CubeGrant,
    cubes: list[Cube],
    doc: SourceDoc,
    base: NodePath,
    diags: Diagnostics,
) -> None:
    every = grant.cube == ALL_CUBES
    for j, name in enumerate(grant.measures or []):
        known = [m.name for c in cubes for m in c.measures]
        if name not in known:
            diags.add(
                "E121",
                f"role '{role.name}': unknown measure '{name}'",
                doc.loc((*base, "measures", j)),
                did_you_mean(name, known),
            )
    for j, name in enumerate(grant.hidden_dimensions):
        known = [d.alias for c in cubes for d in c.dimensions]
        if name not in known:
            diags.add(
                "E122",
                f"role '{role.name}': unknown dimension '{name}'",
                doc.loc((*base, "hidden_dimensions", j)),
                did_you_mean(name, known),
            )
    for j, member in enumerate(grant.members):
        at = doc.loc((*base, "members", j, "cut"))
        problem = _cut_problem(model, cubes, member.cut, every, single=True)
        if problem is not None:
            diags.add("E123", f"role '{role.name}': members {problem[0]}", at, problem[1])
        elif member.rollup != RollupPolicy.partial and _on_time(model, cubes, member.cut):
            diags.add(
                "E123",
                f"role '{role.name}': rollup '{member.rollup}' applies to members, not to periods",
                doc.loc((*base, "members", j, "rollup")),
                "restrict time with rollup: partial (the default)",
            )
    if grant.rows is not None:
        at = doc.loc((*base, "rows"))
        bad = [c for c in claim_names(grant.rows) if not CLAIM_NAME.match(c)]
        if bad:
            diags.add("E124", f"role '{role.name}': rows name a bad claim '{{{bad[0]}}}'", at)
            return
        sample = (with_claims(grant.rows, {c: ["x"] for c in claim_names(grant.rows)}) or [""])[0]
        problem = _cut_problem(model, cubes, sample, every, single=False, members=False)
        if problem is not None:
            diags.add("E124", f"role '{role.name}': rows {problem[0]}", at, problem[1])


def _on_time(model: Model, cubes: list[Cube], text: str) -> bool:
    alias = parse_cuts(text)[0].dimension
    linked = [model.dimensions.get(d.dimension) for c in cubes for d in c.dimensions if d.alias == alias]
    return any(dim is not None and dim.is_time for dim in linked)


def _cut_problem(
    model: Model, cubes: list[Cube], text: str, every: bool, *, single: bool, members: bool = True
) -> tuple[str, str | None] | None:
    """What is wrong with a grant's cut, or None. For `cube: "*"` a cut applies to the cubes that
    have its dimension (and must fit at least one)."""
    try:
        cuts = parse_cuts(text)
    except UserError as exc:
        return f"cut '{text}': {exc.message}", exc.hint
    if not cuts:
        return "cut is empty", "e.g. territory:LV005;LV009"
    if single and len({c.dimension for c in cuts}) != 1:
        return f"cut '{text}' must name one dimension", None
    fitting = [c for c in cubes if all(cut.dimension in {d.alias for d in c.dimensions} for cut in cuts)]
    if not fitting:
        known = sorted({d.alias for c in cubes for d in c.dimensions})
        first = cuts[0].dimension
        return f"cut '{text}': no such dimension '{first}'", did_you_mean(first, known)
    for cube in fitting if every else cubes:
        if not resolvable(model, cube):
            continue  # a dimension it links is unknown or broken: reported at the cube
        try:
            resolved = check_cuts(model, cube, cuts)
        except UserError as exc:
            return f"cut '{text}': {exc.message}", exc.hint
        if members:
            for rc in resolved:
                if ("members", rc.ref.dim.name) in model.unreadable:
                    continue  # not all its members could be read: reported there
                for message, hint in unknown_members(model, rc.ref.dim, rc.ref.hierarchy.levels, rc.cut):
                    return f"cut '{text}': {message}", hint
    return None
