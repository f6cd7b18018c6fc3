"""What a principal may see, from the roles declared in the model, applied in the cube service.

Every front end asks the service, so this is the one place the policy runs. A principal sees
the union of its roles' grants; a model that declares no roles lets everyone see everything
(the open demo); once roles are declared, a principal that holds none of them sees nothing.

Per cube a grant names the measures, the dimensions hidden, member restrictions with a rollup
policy, a row-level filter bound to token claims, and whether fact rows may be read. A hidden
cube, measure or dimension answers exactly as an unknown name does. Member restrictions:

* partial (default): the query is cut to the visible members, so every total adds up the
  visible members only — right for distinct counts and averages too;
* hidden: the same, and any total above the restriction that has a hidden member below it is
  empty (None);
* full: true totals; cells at the restricted level or below show only visible members.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from ..errors import ForbiddenError, NotFoundError, QueryError
from ..model.cut_grammar import parse_cuts
from ..model.cuts import Cut, Path, PointCut, RangeCut, SetCut
from ..model.definition import Model
from ..model.diagnostics import did_you_mean
from ..model.resolve import cut_paths, resolve_cut
from ..model.schema import Cube, CubeGrant, RollupPolicy
from ..model.validate import base_measures
from ..model.validate_roles import ALL_CUBES, with_claims
from ..query.cell import CubeQuery, FactsQuery, MembersQuery
from .principal import PUBLIC_ROLE, Principal

PERMISSIVE = {RollupPolicy.hidden: 0, RollupPolicy.partial: 1, RollupPolicy.full: 2}


@dataclass(frozen=True)
class MemberRule:
    """The visible members of one dimension: a cut on one hierarchy, reaching `depth` levels."""

    dimension: str
    hierarchy: str
    depth: int
    cut: Cut
    policy: RollupPolicy


@dataclass(frozen=True)
class CubeAccess:
    measures: frozenset[str]
    hidden_dimensions: frozenset[str]
    rules: tuple[MemberRule, ...]
    rows: tuple[Cut, ...]
    """Row-level cuts every query of this principal carries (claims bound)."""
    microdata: bool
    protected: bool = False
    """Only publication roles grant the cube: its disclosure rules apply (service/disclosure.py)."""


@dataclass(frozen=True)
class Access:
    cubes: dict[str, CubeAccess] | None
    """None: no roles are declared, everything is visible."""

    def of(self, cube: str) -> CubeAccess | None:
        """The access to a cube: None when unrestricted; NotFoundError when the cube is hidden."""
        if self.cubes is None:
            return None
        if cube not in self.cubes:
            raise NotFoundError(f"no cube '{cube}'", hint=did_you_mean(cube, self.cubes))
        return self.cubes[cube]


def access_of(model: Model, principal: Principal) -> Access:
    """The union of the principal's roles' grants (the operator: everything, unprotected)."""
    if principal.operator:
        return Access({name: _everything(cube) for name, cube in model.cubes.items()})
    if not model.roles:
        return Access(None)
    claims: dict[str, list[str]] = {}
    for name, value in principal.claims:
        claims.setdefault(name, []).append(value)
    grants: dict[str, list[CubeGrant]] = {}
    published: dict[str, list[bool]] = {}
    for name in sorted(principal.roles):
        role = model.roles.get(name)
        for grant in role.cubes if role is not None else ():
            for cube in model.cubes.values() if grant.cube == ALL_CUBES else [model.cubes[grant.cube]]:
                grants.setdefault(cube.name, []).append(grant)
                for_publication = name == PUBLIC_ROLE or (role is not None and role.publication)
                published.setdefault(cube.name, []).append(for_publication)
    cubes: dict[str, CubeAccess] = {}
    for cube_name, gs in grants.items():
        # Grants for publication and others are not united: "municipality X in full" and
        # "everything, protected" would unite to everything in full. A principal with both
        # kinds gets what its other roles grant (unprotected); else the publication view.
        own = [g for g, pub in zip(gs, published[cube_name], strict=True) if not pub]
        access = _united(model, model.cubes[cube_name], own, claims) if own else None
        if access is None:
            access = _united(model, model.cubes[cube_name], gs, claims)
            if access is not None:
                access = replace(access, protected=True)
        if access is not None:
            cubes[cube_name] = access
    return Access(cubes)


def _everything(cube: Cube) -> CubeAccess:
    return CubeAccess(frozenset(m.name for m in cube.measures), frozenset(), (), (), True, False)


def _united(
    model: Model, cube: Cube, grants: list[CubeGrant], claims: dict[str, list[str]]
) -> CubeAccess | None:
    """One access from several roles' grants of a cube (a union); None when no grant's row
    filter can be bound to the principal's claims (it sees no rows, so not the cube)."""
    bound: list[tuple[CubeGrant, tuple[Cut, ...]]] = []
    for g in grants:
        if g.rows is None:
            bound.append((g, ()))
            continue
        texts = with_claims(g.rows, claims)
        if texts is not None:  # several values of a claim: the rows of any of them
            bound.append((g, _union_of_cuts([parse_cuts(t) for t in texts], "rows")))
    if not bound:
        return None
    aliases = {d.alias for d in cube.dimensions}
    hidden = frozenset.intersection(*(frozenset(g.hidden_dimensions) & aliases for g, _ in bound))
    names: set[str] = set()
    for g, _ in bound:
        names |= {m.name for m in cube.measures} if g.measures is None else set(g.measures)
    measures = frozenset(
        m.name
        for m in cube.measures
        if m.name in names and all(b.name in names for b in base_measures(cube, [m.name]))
    )
    rows = () if any(not cuts for _, cuts in bound) else _union_of_cuts([c for _, c in bound], "rows")
    return CubeAccess(
        measures,
        hidden,
        _rules(model, cube, [g for g, _ in bound]),
        rows,
        any(g.microdata for g, _ in bound),
    )


def _rules(model: Model, cube: Cube, grants: list[CubeGrant]) -> tuple[MemberRule, ...]:
    per_grant = [{parse_cuts(m.cut)[0].dimension: m for m in g.members} for g in grants]
    rules = []
    for alias in sorted({a for p in per_grant for a in p}):
        if any(alias not in p for p in per_grant):
            continue  # one role sees every member of it: so does the union
        chosen = [p[alias] for p in per_grant]
        (cut,) = _union_of_cuts([parse_cuts(m.cut) for m in chosen], "members")
        rc = resolve_cut(model, cube, cut)
        policy = max((m.rollup for m in chosen), key=PERMISSIVE.__getitem__)
        rules.append(MemberRule(alias, rc.ref.hierarchy.name, rc.depth, cut, policy))
    return tuple(rules)


def _union_of_cuts(options: list[tuple[Cut, ...]], what: str) -> tuple[Cut, ...]:
    """Several roles' restrictions as one: the same cuts, or point/set cuts on one dimension
    and hierarchy joined into a set. Anything else cannot be united exactly: refused."""
    if all(o == options[0] for o in options):
        return options[0]
    flat = [o[0] if len(o) == 1 else None for o in options]
    if None in flat or any(isinstance(c, RangeCut) or c.invert for c in flat if c is not None):
        raise QueryError(
            f"your roles restrict {what} in ways that cannot be combined",
            hint="ask the administrator for a role that grants what you need",
        )
    cuts = [c for c in flat if c is not None]
    if len({(c.dimension, c.hierarchy) for c in cuts}) != 1:
        raise QueryError(
            f"your roles restrict {what} on different dimensions, which cannot be combined",
            hint="ask the administrator for a role that grants what you need",
        )
    paths = tuple(dict.fromkeys(p for c in cuts for p in cut_paths(c)))
    return (SetCut(cuts[0].dimension, paths, cuts[0].hierarchy),)


def visible_cube(cube: Cube, access: CubeAccess) -> Cube:
    """The cube as the principal sees it: hidden measures and dimensions left out."""
    return cube.model_copy(
        update={
            "measures": [m for m in cube.measures if m.name in access.measures],
            "dimensions": [d for d in cube.dimensions if d.alias not in access.hidden_dimensions],
        }
    )


def visible_model(model: Model, access: Access) -> Model:
    if access.cubes is None:
        return model
    cubes = {n: visible_cube(model.cubes[n], a) for n, a in access.cubes.items()}
    indicators = {
        code: ind
        for code, ind in model.indicators.items()
        if ind.cube in cubes
        and ind.measure in {m.name for m in cubes[ind.cube].measures}
        and all(
            c.dimension in {d.alias for d in cubes[ind.cube].dimensions} for c in parse_cuts(ind.cuts)
        )
    }
    return replace(model, cubes=cubes, indicators=indicators)


# --- queries ---------------------------------------------------------------------------------------
def _check_dimensions(cube: Cube, access: CubeAccess, names: Iterable[str]) -> None:
    """A dimension the principal may not see answers as an unknown one (its hint names only
    visible dimensions, so it cannot reveal a hidden one either)."""
    visible = [d.alias for d in cube.dimensions if d.alias not in access.hidden_dimensions]
    for name in names:
        if name not in visible:
            raise NotFoundError(
                f"cube '{cube.name}' has no dimension '{name}'", hint=did_you_mean(name, visible)
            )


def _check_measures(cube: Cube, access: CubeAccess, names: Iterable[str]) -> None:
    visible = [m.name for m in cube.measures if m.name in access.measures]
    for name in names:
        if name not in access.measures:
            hint = did_you_mean(name, visible)
            raise NotFoundError(f"cube '{cube.name}' has no measure '{name}'", hint=hint)


def _check_order(cube: Cube, access: CubeAccess, order: Iterable[Any]) -> None:
    """Order fields name a measure or a dimension's attribute (`dim.level`): hidden ones are
    unknown; what is neither is left to the executor's own check."""
    known_dims = {d.alias for d in cube.dimensions}
    for o in order:
        head = o.field.split(".")[0]
        if head in known_dims:
            _check_dimensions(cube, access, [head])
        elif head in {m.name for m in cube.measures}:
            _check_measures(cube, access, [head])


@dataclass(frozen=True)
class Restricted:
    """A query as the policy rewrote it, and what to do with its answer."""

    query: CubeQuery
    hidden_totals: tuple[MemberRule, ...] = ()
    """Rules with the `hidden` policy: totals above them with a hidden member below are emptied."""
    true_total: CubeQuery | None = None
    """Under `full`, the query whose summary is the true total (the cells are cut to visible)."""


def restrict_aggregate(model: Model, cube: Cube, access: CubeAccess | None, query: CubeQuery) -> Restricted:
    if access is None:
        return Restricted(query)
    _check_measures(cube, access, query.measures)
    dims = [c.dimension for c in (*query.cuts, *query.split)] + [d.dimension for d in query.drilldowns]
    _check_dimensions(cube, access, dims)
    _check_order(cube, access, query.order)
    measures = query.measures or tuple(m.name for m in cube.measures if m.name in access.measures)
    cuts = list(query.cuts) + list(access.rows)
    hidden: list[MemberRule] = []
    true_total = None
    for rule in access.rules:
        reach = _reach(model, cube, rule, query)
        if rule.policy == RollupPolicy.hidden and _other_hierarchy(model, cube, rule, query):
            raise QueryError(
                f"'{rule.dimension}' can be drilled only along hierarchy '{rule.hierarchy}' for your roles",
                hint=f"drill {rule.dimension}@{rule.hierarchy}",
            )
        if rule.policy == RollupPolicy.full and reach == "none":
            continue  # no cell at or below the restriction: true totals are what it may see
        cuts.append(_rule_cut(rule))
        if rule.policy == RollupPolicy.hidden:
            hidden.append(rule)
        elif rule.policy == RollupPolicy.full and reach == "drill":
            if query.subtotals != "none":
                raise QueryError(
                    f"subtotals are not available drilled to '{rule.dimension}' at this level for your roles",
                    hint="drill one level up, or ask without subtotals",
                )
            true_total = CubeQuery(query.cube, measures, tuple(query.cuts) + access.rows, lang=query.lang,
                                   as_of=query.as_of)  # fmt: skip
    restricted = replace(query, measures=measures, cuts=tuple(cuts))
    return Restricted(restricted, tuple(hidden), true_total)


def _other_hierarchy(model: Model, cube: Cube, rule: MemberRule, query: CubeQuery) -> bool:
    dim = model.dimensions[cube.link(rule.dimension).dimension]
    drills = [d for d in query.drilldowns if d.dimension == rule.dimension]
    return any(dim.hierarchy(d.hierarchy).name != rule.hierarchy for d in drills)


def _rule_cut(rule: MemberRule) -> Cut:
    return replace(rule.cut, hierarchy=rule.hierarchy)


def _reach(model: Model, cube: Cube, rule: MemberRule, query: CubeQuery) -> str:
    """Whether the query reaches the rule's level on its dimension: by a cut or split ("cut"),
    by a drilldown ("drill"), or not ("none"). Another hierarchy of the dimension counts as
    reaching it (the rule's paths do not say where its members are there)."""
    for c in (*query.cuts, *query.split):
        if c.dimension == rule.dimension:
            rc = resolve_cut(model, cube, c)
            if rc.ref.hierarchy.name != rule.hierarchy or rc.depth >= rule.depth:
                return "cut"
    for d in query.drilldowns:
        if d.dimension != rule.dimension:
            continue
        dim = model.dimensions[cube.link(rule.dimension).dimension]
        hierarchy = dim.hierarchy(d.hierarchy)
        if hierarchy.name != rule.hierarchy:
            return "drill"
        depth = hierarchy.levels.index(d.level) + 1 if d.level else None
        if depth is None or depth >= rule.depth:
            return "drill"  # without a level, Slicer's default depth may reach it: be safe
    return "none"


def restrict_members(cube: Cube, access: CubeAccess | None, query: MembersQuery) -> MembersQuery:
    if access is None:
        return query
    _check_dimensions(cube, access, [query.dimension, *(c.dimension for c in query.cuts)])
    own = tuple(_rule_cut(r) for r in access.rules if r.dimension == query.dimension)
    return replace(query, cuts=query.cuts + own)


def restrict_facts(
    cube: Cube, access: CubeAccess | None, query: FactsQuery, attributes: Sequence[str] = ()
) -> FactsQuery:
    """The facts query as the principal may ask it: `attributes` are the cube's dimension
    attributes (`dim.level`, `dim.level_label`); those of a hidden dimension are unknown."""
    if access is None:
        return query
    if not access.microdata:
        raise ForbiddenError(
            f"fact rows of cube '{cube.name}' are not available to your roles",
            hint="ask for aggregates, or for a role with the microdata grant",
        )
    _check_dimensions(cube, access, [c.dimension for c in query.cuts])
    hidden = hidden_columns(cube, access)
    hidden |= {a for a in attributes if a.partition(".")[0] in access.hidden_dimensions}
    for f in (*query.fields, *(o.field for o in query.order)):
        if f in hidden:
            raise NotFoundError(f"cube '{cube.name}' has no fact field '{f}'")
    shown = tuple(c.name for c in cube.columns if c.name not in hidden and not c.pseudonymous)
    shown += tuple(a for a in attributes if a not in hidden)
    fields = query.fields or (shown if hidden else ())
    rules = tuple(_rule_cut(r) for r in access.rules)
    return replace(query, cuts=query.cuts + access.rows + rules, fields=fields)


def fact_cuts(cube: Cube, access: CubeAccess | None) -> tuple[Cut, ...]:
    """The cuts a single fact must be inside to be shown (None access: no condition)."""
    if access is None:
        return ()
    if not access.microdata:
        raise ForbiddenError(
            f"fact rows of cube '{cube.name}' are not available to your roles",
            hint="ask for aggregates, or for a role with the microdata grant",
        )
    return access.rows + tuple(_rule_cut(r) for r in access.rules)


def hidden_columns(cube: Cube, access: CubeAccess) -> set[str]:
    """Fact columns that would show what a hidden dimension or measure holds."""
    hidden = {d.column for d in cube.dimensions if d.alias in access.hidden_dimensions}
    for m in cube.measures:
        if m.name not in access.measures and m.column is not None:
            hidden.add(m.column)
    visible = {d.column for d in cube.dimensions if d.alias not in access.hidden_dimensions}
    visible |= {m.column for m in cube.measures if m.name in access.measures and m.column}
    return hidden - visible


def check_cell(model: Model, cube: Cube, access: CubeAccess | None, cuts: tuple[Cut, ...]) -> None:
    """Cut details name members: a member the principal may not see is as unknown."""
    if access is None:
        return
    _check_dimensions(cube, access, [c.dimension for c in cuts])
    for c in cuts:
        for rule in access.rules:
            if c.dimension != rule.dimension:
                continue
            rc = resolve_cut(model, cube, c)
            for path in cut_paths(c):
                deep = rc.ref.hierarchy.name == rule.hierarchy and len(path) >= rule.depth
                if deep and not matches(rule.cut, path[: rule.depth]):
                    raise NotFoundError(f"'{c.dimension}' has no member {list(path)}")


# --- answers ---------------------------------------------------------------------------------------
def matches(cut: Cut, path: Path) -> bool:
    """Whether a member path (at least as deep as the cut's paths) is inside a point or set cut."""
    if isinstance(cut, RangeCut):
        raise QueryError("a range cannot restrict members")  # validation keeps ranges out of rules
    paths = [cut.path] if isinstance(cut, PointCut) else list(cut.paths)
    inside = any(path[: len(p)] == p for p in paths)
    return inside != cut.invert


def member_paths(model: Model, cube: Cube, rule: MemberRule) -> set[Path]:
    """Every member of the rule's dimension at its depth (all versions), as paths."""
    dim = model.dimensions[cube.link(rule.dimension).dimension]
    levels = [dim.level(n) for n in dim.hierarchy(rule.hierarchy).levels[: rule.depth]]
    return {
        tuple(None if r.get(lv.key_column) is None else str(r[lv.key_column]) for lv in levels)
        for r in model.members.get(dim.name, [])
    }


def empty_hidden_totals(
    model: Model,
    cube: Cube,
    rules: tuple[MemberRule, ...],
    cells: pa.Table,
    key_columns: dict[str, list[str]],
    measures: list[str],
    query_cuts: tuple[Cut, ...],
) -> tuple[pa.Table, bool]:
    """Under `hidden`: cells whose member on a rule's dimension is coarser than the rule and has
    a hidden member below become empty; and whether the grand total must be empty too (the
    query's cell holds a hidden member). `key_columns`: per dimension, its drilled levels'
    key columns, top-down."""
    summary_empty = False
    for rule in rules:
        every = member_paths(model, cube, rule)
        hidden = {p for p in every if not matches(rule.cut, p)}
        if not hidden:
            continue
        user = [c for c in query_cuts if c.dimension == rule.dimension and c != _rule_cut(rule)]
        dim = model.dimensions[cube.link(rule.dimension).dimension]
        elsewhere = any(dim.hierarchy(c.hierarchy).name != rule.hierarchy for c in user)
        if elsewhere or any(all(_inside(c, p) for c in user) for p in hidden):
            summary_empty = True  # another hierarchy's cut may hold a hidden member: as if it did
        columns = key_columns.get(rule.dimension, [])
        if not columns or len(columns) >= rule.depth or cells.num_rows == 0:
            continue
        prefixes = {p[: len(columns)] for p in hidden}
        keys = list(zip(*(cells.column(c).to_pylist() for c in columns), strict=True))
        empty = [tuple(None if k is None else str(k) for k in key) in prefixes for key in keys]
        if any(empty):
            mask = pa.array(empty)
            for name in measures:
                i = cells.column_names.index(name)
                col = cells.column(name)
                cells = cells.set_column(i, name, pa.compute.if_else(mask, pa.scalar(None, col.type), col))
    return cells, summary_empty


def _inside(cut: Cut, path: Path) -> bool:
    if isinstance(cut, RangeCut):
        return True  # a range may hold it: treat as holding (the total is emptied, never shown)
    paths = [cut.path] if isinstance(cut, PointCut) else list(cut.paths)
    inside = any(path[: len(p)] == p[: len(path)] for p in paths)
    return inside != cut.invert
