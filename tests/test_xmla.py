"""XMLA (labis_olap/xmla, POST /xmla) against a real `labis serve` on 127.0.0.1 over the mini
model with roles and API keys: every Discover rowset through the `olap3` client and as raw SOAP,
each answer validated against the schema it carries; Excel-style MDX through `olap3` equal to the
REST aggregate of every cell's coordinates; the golden Excel conversation replayed in order;
sessions; authentication and a restricted role; Faults for every error.

`olap3` and `zope.schema` are in the test extra: without them these tests fail, not skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ruamel.yaml import YAML
from xmla_client import (
    MDDATASET,
    XMLA,
    Served,
    discover_body,
    execute_body,
    fault_of,
    returned,
    rows,
    serve,
    validate,
)

from labis_olap.xmla.rowsets import ROWSETS

HERE = Path(__file__).parent
CONVERSATION = YAML(typ="safe").load((HERE / "cases" / "xmla_excel_conversation.yaml").read_text("utf-8"))
M = f"{{{MDDATASET}}}"
UNAME = re.compile(r"^\[(?P<dim>[^\]]+)\]\.\[(?P<hier>[^\]]+)\]\.\[[^\]]+\]\.(?P<keys>(?:&\[[^\]]*\])+)$")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("xmla"))


# --- the cells against REST --------------------------------------------------------------------


def cut_of(unique_name: str) -> tuple[str, str] | None:
    """(dimension, Slicer cut) of a member's unique name; None for an All member."""
    if unique_name.endswith(".[All]"):
        return None
    m = UNAME.match(unique_name)
    assert m is not None, unique_name
    keys = re.findall(r"&\[([^\]]*)\]", m["keys"])
    assert "__null__" not in keys, unique_name
    hier = "" if m["hier"] == "default" else "@" + m["hier"]
    return m["dim"], f"{m['dim']}{hier}:{','.join(keys)}"


def rest_value(s: Served, members: list[str], extra: str | None, role: str) -> Any:
    """The REST aggregate of one cell: its members as cuts (over the step's own cut on the same
    dimension), its measure as the aggregate."""
    measure = next(n for n in members if n.startswith("[Measures]."))[len("[Measures].[") : -1]
    cuts: dict[str, str] = {}
    if extra:
        for c in extra.split("|"):
            cuts[c.split(":")[0].split("@")[0]] = c
    for name in members:
        if name.startswith("[Measures]."):
            continue
        found = cut_of(name)
        if found is not None:
            cuts[found[0]] = found[1]
    params = {"aggregates": measure}
    if cuts:
        params["cut"] = "|".join(cuts.values())
    return s.rest("/cube/benefits/aggregate", role=role, **params)["summary"].get(measure)


def check_cells(s: Served, root: etree._Element, extra: str | None = None, role: str = "analyst") -> int:
    """Every cell of an mddataset equals the REST aggregate of its coordinates; the number of
    non-empty cells checked."""
    axes = [a for a in root.find(M + "Axes") if a.get("name") != "SlicerAxis"]  # type: ignore[union-attr]
    slicer = root.find(f"{M}Axes/{M}Axis[@name='SlicerAxis']")
    sliced = [u.text or "" for u in slicer.iter(M + "UName")] if slicer is not None else []
    tuples = [[[u.text or "" for u in t.iter(M + "UName")] for t in a.iter(M + "Tuple")] for a in axes]
    cells = {int(c.get("CellOrdinal", "-1")): c for c in root.find(M + "CellData")}  # type: ignore[union-attr]
    total = 1
    for t in tuples:
        total *= len(t)
    checked = 0
    for ordinal in range(total):
        members, rest = [], ordinal
        for t in tuples:
            members += t[rest % len(t)]
            rest //= len(t)
        hiers = {n.split("].[")[0] for n in members}
        members += [n for n in sliced if n.split("].[")[0] not in hiers]
        expected = rest_value(s, members, extra, role)
        cell = cells.get(ordinal)
        got = None if cell is None else cell.findtext(M + "Value")
        if expected is None:
            assert got is None, (members, got)
            continue
        assert got is not None and float(got) == pytest.approx(float(expected)), (members, got, expected)
        checked += 1
    return checked


# --- every Discover rowset -----------------------------------------------------------------------

REQUIRED = {
    "DISCOVER_DATASOURCES": ["DataSourceName", "ProviderName", "ProviderType"],
    "DISCOVER_PROPERTIES": ["PropertyName", "PropertyAccessType"],
    "DISCOVER_SCHEMA_ROWSETS": ["SchemaName", "SchemaGuid"],
    "DISCOVER_ENUMERATORS": ["EnumName", "EnumType", "ElementName"],
    "DISCOVER_LITERALS": ["LiteralName"],
    "DISCOVER_KEYWORDS": ["Keyword"],
    "DBSCHEMA_CATALOGS": ["CATALOG_NAME"],
    "DBSCHEMA_TABLES": ["TABLE_NAME", "TABLE_TYPE"],
    "MDSCHEMA_CUBES": ["CATALOG_NAME", "CUBE_NAME", "CUBE_TYPE", "CUBE_CAPTION"],
    "MDSCHEMA_DIMENSIONS": ["CUBE_NAME", "DIMENSION_UNIQUE_NAME", "DIMENSION_CAPTION", "DIMENSION_TYPE"],
    "MDSCHEMA_HIERARCHIES": ["CUBE_NAME", "HIERARCHY_UNIQUE_NAME", "HIERARCHY_CAPTION", "DEFAULT_MEMBER"],
    "MDSCHEMA_LEVELS": [
        "CUBE_NAME",
        "HIERARCHY_UNIQUE_NAME",
        "LEVEL_UNIQUE_NAME",
        "LEVEL_NUMBER",
        "LEVEL_TYPE",
    ],
    "MDSCHEMA_MEASURES": ["CUBE_NAME", "MEASURE_UNIQUE_NAME", "MEASURE_CAPTION", "DEFAULT_FORMAT_STRING"],
    "MDSCHEMA_MEASUREGROUPS": ["CUBE_NAME", "MEASUREGROUP_NAME"],
    "MDSCHEMA_MEASUREGROUP_DIMENSIONS": ["MEASUREGROUP_NAME", "DIMENSION_UNIQUE_NAME"],
    "MDSCHEMA_MEMBERS": [
        "HIERARCHY_UNIQUE_NAME",
        "LEVEL_UNIQUE_NAME",
        "LEVEL_NUMBER",
        "MEMBER_UNIQUE_NAME",
        "MEMBER_CAPTION",
    ],
    "MDSCHEMA_PROPERTIES": ["PROPERTY_NAME", "PROPERTY_TYPE"],
    "MDSCHEMA_FUNCTIONS": ["FUNCTION_NAME", "ORIGIN"],
}
EMPTY = {"MDSCHEMA_SETS", "MDSCHEMA_KPIS", "MDSCHEMA_ACTIONS"}
"""The model has no named sets, KPIs or actions: the rowset is empty, its schema is not."""


def test_the_rowsets_are_the_ones_the_issue_lists() -> None:
    assert set(ROWSETS) == set(REQUIRED) | EMPTY


@pytest.mark.parametrize("name", sorted(ROWSETS))
def test_every_rowset_through_olap3_and_its_own_schema(served: Served, name: str) -> None:
    got = served.olap3().Discover(name, properties={"Catalog": "LabIS"})
    status, _, answer = served.post(discover_body(name, Catalog="LabIS"))
    assert status == 200
    root = returned(answer)
    validate(root)
    raw = rows(root)
    assert len(got) == len(raw)
    if name in EMPTY:
        assert raw == []
        return
    assert raw, name
    for row in raw:
        for column in REQUIRED[name]:
            assert row.get(column), (name, column, row)


def test_restrictions_narrow_and_unknown_ones_are_refused(served: Served) -> None:
    levels = served.olap3().Discover(
        "MDSCHEMA_LEVELS", {"CUBE_NAME": "benefits", "HIERARCHY_UNIQUE_NAME": "[time].[ym]"}
    )
    assert [lv["LEVEL_UNIQUE_NAME"] for lv in levels] == [
        "[time].[ym].[(All)]",
        "[time].[ym].[year]",
        "[time].[ym].[month]",
    ]
    status, _, answer = served.post(discover_body("MDSCHEMA_CUBES", {"CUBE_NAME": ""}))
    assert [r["CUBE_NAME"] for r in rows(returned(answer))] == ["benefits"]  # empty: no restriction
    status, _, answer = served.post(discover_body("MDSCHEMA_CUBES", Content="Schema"))
    root = returned(answer)
    validate(root)
    assert status == 200 and rows(root) == [] and len(root) == 1
    status, _, answer = served.post(discover_body("MDSCHEMA_CUBES", {"NO_SUCH": "x"}))
    assert status == 500 and "MDSCHEMA_CUBES has no restriction 'NO_SUCH'" in fault_of(answer)
    status, _, answer = served.post(discover_body("MDSCHEMA_NOTHING"))
    assert status == 500 and "unknown rowset 'MDSCHEMA_NOTHING'" in fault_of(answer)


def test_members_by_tree_operation(served: Served) -> None:
    c = served.olap3()
    r1 = "[territory].[region].[region].&[R1]"
    restrict = {"CUBE_NAME": "benefits", "MEMBER_UNIQUE_NAME": r1}
    children = c.Discover("MDSCHEMA_MEMBERS", {**restrict, "TREE_OP": 1})
    assert [m["MEMBER_CAPTION"] for m in children] == [
        "Alfa",
        "Beta-Gamma",
    ]  # labels are the newest version's
    assert {m["PARENT_UNIQUE_NAME"] for m in children} == {r1}
    parent = c.Discover("MDSCHEMA_MEMBERS", {**restrict, "TREE_OP": 4})
    assert [m["MEMBER_UNIQUE_NAME"] for m in parent] == ["[territory].[region].[All]"]
    (me,) = c.Discover("MDSCHEMA_MEMBERS", restrict)
    assert me["CHILDREN_CARDINALITY"] == "2" and me["LEVEL_NUMBER"] == "1"


# --- Execute ---------------------------------------------------------------------------------------

EXCEL_MDX = [
    # drill down regions, NON EMPTY, by gender, in one year
    """SELECT NON EMPTY Hierarchize({DrilldownLevel({[gender].[default].[All]},,,INCLUDE_CALC_MEMBERS)})
         DIMENSION PROPERTIES PARENT_UNIQUE_NAME,HIERARCHY_UNIQUE_NAME ON COLUMNS,
       NON EMPTY Hierarchize({DrilldownLevel({[territory].[region].[All]},,,INCLUDE_CALC_MEMBERS)})
         DIMENSION PROPERTIES PARENT_UNIQUE_NAME,HIERARCHY_UNIQUE_NAME ON ROWS
       FROM [benefits] WHERE ([time].[ymd].[year].&[2024], [Measures].[recipients])
       CELL PROPERTIES VALUE, FORMAT_STRING, LANGUAGE, BACK_COLOR, FORE_COLOR, FONT_FLAGS""",
    # measures by quarters of a year, one region expanded
    """SELECT {[Measures].[amount],[Measures].[payments],[Measures].[avg_amount]} ON COLUMNS,
       NON EMPTY Hierarchize(DrilldownMember(
         {{DrilldownLevel({[territory].[region].[All]},,,INCLUDE_CALC_MEMBERS)}},
         {[territory].[region].[region].&[R2]},,,INCLUDE_CALC_MEMBERS))
         DIMENSION PROPERTIES PARENT_UNIQUE_NAME ON ROWS
       FROM [benefits] WHERE ([time].[ymd].[year].&[2024])""",
    # a sub-select filter on two benefit types
    """SELECT {[Measures].[amount],[Measures].[recipients]} ON 0,
       NON EMPTY Hierarchize({DrilldownLevel({[time].[ymd].[All]},,,INCLUDE_CALC_MEMBERS)}) ON 1
       FROM (SELECT ({[benefit_type].[default].[benefit_type].&[assist]&[gmi],
                      [benefit_type].[default].[benefit_type].&[assist]&[housing]}) ON COLUMNS
             FROM [benefits])""",
]
EXCEL_CUTS = [None, "time@ymd:2024", "benefit_type:assist,gmi;assist,housing"]


@pytest.mark.parametrize("index", range(len(EXCEL_MDX)))
def test_olap3_execute_of_excel_mdx_equals_rest(served: Served, index: int) -> None:
    statement = EXCEL_MDX[index]
    result = served.olap3().Execute(statement, Catalog="LabIS")
    assert len(result.getAxisTuple(0)) >= 2 and len(result.getAxisTuple(1)) >= 2
    status, _, answer = served.post(execute_body(statement, Catalog="LabIS"))
    assert status == 200
    root = returned(answer)
    validate(root)
    values = {
        o: c.findtext(M + "Value")
        for o, c in ((int(c.get("CellOrdinal")), c) for c in root.find(M + "CellData"))
    }
    cols = len(result.getAxisTuple(0))
    for o, v in values.items():  # the client reads the same cells
        assert float(result.getSlice(properties="Value")[o // cols][o % cols]) == pytest.approx(float(v))
    assert check_cells(served, root, EXCEL_CUTS[index]) >= 4


def test_a_publication_roles_withheld_cells_show_their_status(served: Served) -> None:
    """The territory by year for a publication role, through raw SOAP and olap3: every cell REST
    withholds (`A`, `D`) has no value and its status as FORMATTED_VALUE (what Excel shows), the
    others REST's value; a calculated member adding a withheld cell to a shown one is withheld
    too (`D`), never the shown one alone."""
    statement = (
        "SELECT [time].[ymd].[year].Members ON 0, [territory].[region].Members ON 1 "
        "FROM [benefits] WHERE [Measures].[recipients]"
    )  # every level of the territory: All, regions, municipalities
    status, _, answer = served.post(execute_body(statement, Catalog="LabIS"), served.basic("publisher"))
    assert status == 200
    root = returned(answer)
    validate(root)
    axes = [a for a in root.find(M + "Axes") if a.get("name") != "SlicerAxis"]  # type: ignore[union-attr]
    years, places = ([t.findtext(f"{M}Member/{M}UName") or "" for t in a.iter(M + "Tuple")] for a in axes)
    cells = {int(c.get("CellOrdinal", "-1")): c for c in root.find(M + "CellData")}  # type: ignore[union-attr]
    withheld: dict[str, list[str]] = {"A": [], "D": []}
    shown: list[str] = []
    for ordinal in range(len(years) * len(places)):
        year, place = years[ordinal % len(years)], places[ordinal // len(years)]
        cut = "|".join(found[1] for found in (cut_of(year), cut_of(place)) if found is not None)
        rest = served.rest("/cube/benefits/aggregate", role="publisher", cut=cut, aggregates="recipients")
        expected, flag = rest["summary"]["recipients"], rest["summary"]["recipients:status"]
        cell = cells.get(ordinal)
        if flag:
            assert cell is not None and cell.find(M + "Value") is None, (place, year)
            assert cell.findtext(M + "FmtValue") == flag
            withheld[flag].append(place)
        elif cell is None:  # no facts: an empty cell (REST's total of nothing is 0)
            assert not expected, (place, year)
        else:
            assert float(cell.findtext(M + "Value") or "nan") == float(expected), (place, year)
            shown.append(place)
    assert withheld["A"] and withheld["D"] and shown, ("the fixture has cells of every kind", withheld, shown)
    flags = served.olap3("publisher").Execute(statement, Catalog="LabIS").getSlice(properties="FmtValue")
    assert sum(row.count("A") for row in flags) == len(withheld["A"])
    year = years[0]
    hidden = next(p for o, p in enumerate(withheld["A"] + withheld["D"]) if p != shown[0])
    calc = (
        f"WITH MEMBER [territory].[region].[both] AS {hidden} + {shown[0]} "
        f"SELECT {{{year}}} ON 0, {{[territory].[region].[both]}} ON 1 FROM [benefits] "
        "WHERE [Measures].[recipients]"
    )
    both = returned(served.post(execute_body(calc, Catalog="LabIS"), served.basic("publisher"))[2])
    cell = both.find(f"{M}CellData/{M}Cell")
    assert cell is not None and cell.find(M + "Value") is None and cell.findtext(M + "FmtValue") in ("A", "D")
    analyst = returned(served.post(execute_body(calc, Catalog="LabIS"))[2])
    assert analyst.findtext(f"{M}CellData/{M}Cell/{M}Value") is not None


def test_tabular_format_is_a_rowset(served: Served) -> None:
    statement = (
        "SELECT {[Measures].[amount],[Measures].[payments]} ON 0, "
        "[territory].[region].[region].Members ON 1 FROM [benefits]"
    )
    got = list(served.olap3().Execute(statement, "Tabular", Catalog="LabIS", LocaleIdentifier=1033).items())
    rest = served.rest("/cube/benefits/aggregate", drilldown="territory:region", lang="en")["cells"]
    assert {(r["Territory"], float(r["amount"]), float(r["payments"])) for r in got} == {
        (c["territory.region_label"], float(c["amount"]), float(c["payments"]))
        for c in rest
        if c["territory.region"] is not None  # facts of an unknown municipality: no member to show
    }
    status, _, answer = served.post(execute_body(statement, Format="Tabular"))
    assert status == 200
    validate(returned(answer))


def test_system_rowsets_as_power_query_asks(served: Served) -> None:
    statement = "SELECT [CUBE_NAME], [CUBE_CAPTION] FROM $system.MDSCHEMA_CUBES WHERE CUBE_SOURCE = '1'"
    status, _, answer = served.post(execute_body(statement, LocaleIdentifier="1033"))
    root = returned(answer)
    validate(root)
    assert status == 200 and rows(root) == [{"CUBE_NAME": "benefits", "CUBE_CAPTION": "Benefits"}]
    status, _, answer = served.post(execute_body("SELECT NOPE FROM $system.MDSCHEMA_CUBES"))
    assert status == 500 and "MDSCHEMA_CUBES has no column 'NOPE'" in fault_of(answer)


def test_captions_follow_the_locale(served: Served) -> None:
    statement = (
        "SELECT {[Measures].[amount],[Measures].[payments]} ON 0, "
        "[territory].[region].Members ON 1 FROM [benefits]"
    )
    for lcid, expected in (("1033", ["All", "North"]), ("1062", ["Kopā", "Ziemeļi"])):
        root = returned(served.post(execute_body(statement, LocaleIdentifier=lcid))[2])
        rows_axis = root.find(f"{M}Axes/{M}Axis[@name='Axis1']")
        assert rows_axis is not None
        captions = [c.text for c in rows_axis.iter(M + "Caption")]
        assert captions[:2] == expected, lcid


# --- the golden conversation -------------------------------------------------------------------


def test_the_excel_conversation_in_order(served: Served) -> None:
    session: str | None = None
    for i, step in enumerate(CONVERSATION["steps"]):
        where = f"step {i}: {step.get('discover') or (step['execute'] or 'session').splitlines()[0]}"
        props = {k: str(v) for k, v in (step.get("properties") or {}).items()}
        if "discover" in step:
            body = discover_body(step["discover"], step.get("restrictions"), **props)
        else:
            header = ""
            if step.get("begin_session"):
                header = f'<BeginSession xmlns="{XMLA}" mustUnderstand="1"/>'
            elif step.get("end_session"):
                header = f'<EndSession xmlns="{XMLA}" SessionId="{session}" mustUnderstand="1"/>'
            elif session is not None:
                header = f'<Session xmlns="{XMLA}" SessionId="{session}" mustUnderstand="1"/>'
            body = execute_body(step["execute"], header, Catalog="LabIS", **props)
        status, _, answer = served.post(body)
        assert status == 200, (where, answer[-600:])
        root = returned(answer)
        if step.get("begin_session"):
            found = etree.fromstring(answer).find(f".//{{{XMLA}}}Session")
            assert found is not None and found.get("SessionId"), where
            session = found.get("SessionId")
            continue
        if step.get("end_session") or ("discover" not in step and not step["execute"].strip()):
            continue
        validate(root)
        if "discover" in step:
            got = rows(root)
            if step.get("none"):
                assert got == [], where
            assert len(got) >= step.get("rows", 1 if not step.get("none") else 0), where
            if "has" in step:
                want = {k: str(v) for k, v in step["has"].items()}
                assert any(all(r.get(k) == v for k, v in want.items()) for r in got), (where, got[:3])
            continue
        axes = [a for a in root.find(M + "Axes") if a.get("name") != "SlicerAxis"]  # type: ignore[union-attr]
        assert [len(a.findall(f"{M}Tuples/{M}Tuple")) for a in axes] == step["axes"], where
        if "captions" in step:
            assert [c.text for c in axes[-1].iter(M + "Caption")] == step["captions"], where
        for member in root.iter(M + "Member"):
            int(member.findtext(M + "DisplayInfo") or "x")
        assert check_cells(served, root, step.get("cut")) >= 1, where
    assert session is not None


# --- sessions, auth, faults ----------------------------------------------------------------------


def test_sessions_begin_echo_and_end(served: Served) -> None:
    c = served.olap3()
    c.BeginSession()
    sid = c.sessionId
    assert re.fullmatch(r"[0-9A-F-]{36}", sid)
    header = f'<Session xmlns="{XMLA}" SessionId="{sid}"/>'
    status, _, answer = served.post(execute_body("SELECT FROM [benefits]", header))
    echoed = etree.fromstring(answer).find(f".//{{{XMLA}}}Session")
    assert status == 200 and echoed is not None and echoed.get("SessionId") == sid
    assert c.getMDSchemaCubes()  # Discover in the session
    status, _, answer = served.post(execute_body("SELECT FROM [benefits]", header), served.basic("north"))
    assert status == 500 and "does not exist" in fault_of(answer)  # another principal's session
    c.EndSession()
    status, _, answer = served.post(execute_body("SELECT FROM [benefits]", header))
    assert status == 500 and f"the session '{sid}' does not exist or has ended" in fault_of(answer)
    unknown = f'<Session xmlns="{XMLA}" SessionId="00000000-0000-0000-0000-000000000000"/>'
    status, _, answer = served.post(
        discover_body("MDSCHEMA_CUBES").replace(
            "<soap:Body>", f"<soap:Header>{unknown}</soap:Header><soap:Body>"
        )
    )
    assert status == 500 and "does not exist" in fault_of(answer)


def test_without_credentials_401_with_the_basic_challenge(served: Served) -> None:
    status, headers, answer = served.post(discover_body("MDSCHEMA_CUBES"), headers={})
    challenge = {k.lower(): v for k, v in headers.items()}["www-authenticate"]
    assert status == 401 and 'Basic realm="LabIS"' in challenge
    assert "authentication required" in fault_of(answer)
    wrong = {"Authorization": "Basic " + "ZXhjZWw6bGJrX3dyb25n"}  # excel:lbk_wrong
    status, _, answer = served.post(discover_body("MDSCHEMA_CUBES"), headers=wrong)
    assert status == 401 and "unknown or revoked API key" in fault_of(answer)
    bearer = {"Authorization": f"Bearer {served.keys['analyst']}"}
    assert served.post(discover_body("MDSCHEMA_CUBES"), headers=bearer)[0] == 200


def test_a_restricted_role_sees_only_its_members(served: Served) -> None:
    north = served.olap3("north")
    names = [
        m["MEMBER_UNIQUE_NAME"]
        for m in north.Discover(
            "MDSCHEMA_MEMBERS", {"CUBE_NAME": "benefits", "HIERARCHY_UNIQUE_NAME": "[territory].[region]"}
        )
    ]
    assert "[territory].[region].[region].&[R2]" not in names
    assert "[territory].[region].[region].&[R1]" in names and not any("&[R2]" in n for n in names)
    everyone = [
        m["MEMBER_UNIQUE_NAME"]
        for m in served.olap3().Discover(
            "MDSCHEMA_MEMBERS", {"CUBE_NAME": "benefits", "HIERARCHY_UNIQUE_NAME": "[territory].[region]"}
        )
    ]
    assert "[territory].[region].[region].&[R2]" in everyone
    statement = """SELECT {[Measures].[amount],[Measures].[payments]} ON 0,
      [territory].[region].[municipality].Members ON 1 FROM [benefits]"""
    status, _, answer = served.post(execute_body(statement), served.basic("north"))
    root = returned(answer)
    shown = [u.text for u in root.find(f"{M}Axes/{M}Axis[@name='Axis1']").iter(M + "UName")]  # type: ignore[union-attr]
    assert shown and all("&[R1]" in u for u in shown), shown
    assert check_cells(served, root, role="north") >= 4
    status, _, answer = served.post(
        execute_body(
            "SELECT {[Measures].[amount]} ON 0, {[territory].[region].[region].&[R2]} ON 1 FROM [benefits]"
        ),
        served.basic("north"),
    )
    assert status == 500 and "R2" in fault_of(answer)


HOSTILE = {
    "not XML": b"<Envelope",
    "not SOAP": b"<Discover/>",
    "a DTD with an entity": (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>&e;</RequestType>'
        b"</Discover></soap:Body></soap:Envelope>"
    ),
    "an unknown method": b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Drop/></soap:Body></soap:Envelope>',
    "an MDX syntax error": execute_body("SELECT FORM [benefits]").encode(),
    "an unknown cube": execute_body("SELECT FROM [nope]").encode(),
    "an unknown member property": execute_body(
        "SELECT [territory].[region].Members DIMENSION PROPERTIES NOPE ON 0 FROM [benefits]"
    ).encode(),
    "a bad locale": discover_body("MDSCHEMA_CUBES", LocaleIdentifier="latvian").encode(),
}


def test_a_body_over_the_limit_is_a_soap_fault(served: Served) -> None:
    """Refused from its Content-Length, before a byte of it is read: the headers alone are sent
    (a client still writing a large body after the refusal would only see a broken pipe)."""
    import http.client
    import urllib.parse

    url = urllib.parse.urlsplit(served.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    try:
        conn.putrequest("POST", url.path)
        for k, v in {"Content-Type": "text/xml; charset=utf-8", "Content-Length": str(64 << 20),
                     **served.basic()}.items():  # fmt: skip
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        answer = r.read()
        assert r.status == 413, (r.status, answer)
        assert (r.getheader("content-type") or "").startswith("text/xml")
        assert fault_of(answer)
    finally:
        conn.close()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_error_is_a_soap_fault(served: Served, case: str) -> None:
    status, headers, answer = served.post(HOSTILE[case])
    assert status in (413, 500), (case, status)
    assert {k.lower(): v for k, v in headers.items()}["content-type"].startswith("text/xml")
    message = fault_of(answer)
    assert message and "passwd" not in message and "root:" not in answer.decode("utf-8", "replace")


def test_the_fault_of_an_mdx_error_says_where(served: Served) -> None:
    _, _, answer = served.post(execute_body("SELECT FORM [benefits]"))
    assert "mdx:1:13: error[MDX] unexpected '[benefits]'" in fault_of(answer)
    detail = etree.fromstring(answer).find(f".//{{{XMLA}}}Error")
    assert detail is not None and detail.get("Description") and detail.get("ErrorCode", "").isdigit()


def test_axis_members_carry_properties_display_info_and_formats(served: Served) -> None:
    statement = """WITH MEMBER [Measures].[per_payment] AS [Measures].[amount] / [Measures].[payments],
        FORMAT_STRING = '#,##0.00'
      SELECT {[Measures].[amount], [Measures].[per_payment]} ON 0,
      Hierarchize(DrilldownMember({DrilldownLevel({[territory].[region].[All]})},
        {[territory].[region].[region].&[R1]}))
        DIMENSION PROPERTIES PARENT_UNIQUE_NAME, CHILDREN_CARDINALITY ON 1
      FROM [benefits]"""
    root = returned(served.post(execute_body(statement))[2])
    validate(root)
    info = root.find(f"{M}OlapInfo/{M}AxesInfo/{M}AxisInfo[@name='Axis1']/{M}HierarchyInfo")
    assert info is not None and info.get("name") == "[territory].[region]"
    assert [etree.QName(c).localname for c in info] == [
        "UName", "Caption", "LName", "LNum", "DisplayInfo", "PARENT_UNIQUE_NAME", "CHILDREN_CARDINALITY",
    ]  # fmt: skip
    members = root.findall(f"{M}Axes/{M}Axis[@name='Axis1']/{M}Tuples/{M}Tuple/{M}Member")
    got = [
        (
            m.findtext(M + "UName"),
            int(m.findtext(M + "DisplayInfo") or -1),
            m.findtext(M + "PARENT_UNIQUE_NAME"),
        )
        for m in members
    ]
    all_, r1, r2 = (
        "[territory].[region].[All]",
        "[territory].[region].[region].&[R1]",
        "[territory].[region].[region].&[R2]",
    )
    assert got == [
        (all_, 0x10000 | 2, None),  # two children, drilled (the next tuple is its child)
        (r1, 0x10000 | 2, all_),  # drilled too
        ("[territory].[region].[municipality].&[R1]&[M1]", 0, r1),
        ("[territory].[region].[municipality].&[R1]&[M2]", 0x20000, r1),  # the same parent as the one before
        (r2, 2, all_),
    ]
    assert [m.findtext(M + "CHILDREN_CARDINALITY") for m in members] == ["2", "2", "0", "0", "2"]
    cells = {int(c.get("CellOrdinal", "-1")): c for c in root.iter(M + "Cell")}
    ratio = cells[1]  # All × per_payment
    assert ratio.findtext(M + "FormatString") == "#,##0.00"
    assert ratio.findtext(M + "FmtValue") == f"{2993 / 41:,.2f}"
    assert ratio.find(M + "Value").get("{http://www.w3.org/2001/XMLSchema-instance}type") == "xsd:double"  # type: ignore[union-attr]


@pytest.mark.parametrize("command", ["Cancel", "ClearCache"])
def test_cancel_and_clear_cache_are_answered_empty(served: Served, command: str) -> None:
    body = execute_body("").replace("<Statement><![CDATA[]]></Statement>", f"<{command}/>")
    status, _, answer = served.post(body)
    root = returned(answer)
    assert status == 200 and etree.QName(root).namespace == XMLA + ":empty" and len(root) == 0
    status, _, answer = served.post(
        execute_body("").replace("<Statement><![CDATA[]]></Statement>", "<Alter/>")
    )
    assert status == 500 and "the command 'Alter' is not supported" in fault_of(answer)


def test_discover_lists_only_what_the_roles_grant(served: Served) -> None:
    clerk = served.olap3("clerk")
    measures = clerk.Discover("MDSCHEMA_MEASURES", {"CUBE_NAME": "benefits"})
    assert [m["MEASURE_UNIQUE_NAME"] for m in measures] == ["[Measures].[amount]", "[Measures].[payments]"]
    dims = [
        d["DIMENSION_UNIQUE_NAME"] for d in clerk.Discover("MDSCHEMA_DIMENSIONS", {"CUBE_NAME": "benefits"})
    ]
    assert "[territory]" in dims and "[gender]" not in dims
    hiers = [
        h["HIERARCHY_UNIQUE_NAME"] for h in clerk.Discover("MDSCHEMA_HIERARCHIES", {"CUBE_NAME": "benefits"})
    ]
    assert "[gender].[default]" not in hiers
    statement = "SELECT {[Measures].[amount]} ON 0, [gender].[default].Members ON 1 FROM [benefits]"
    status, _, answer = served.post(execute_body(statement), served.basic("clerk"))
    assert status == 500 and "no dimension 'gender'" in fault_of(answer)
    statement = "SELECT {[Measures].[recipients]} ON 0 FROM [benefits]"
    status, _, answer = served.post(execute_body(statement), served.basic("clerk"))
    assert status == 500 and "no measure 'recipients'" in fault_of(answer)
    status, _, answer = served.post(discover_body("MDSCHEMA_CUBES"), served.basic("outsider"))
    assert status == 200 and rows(returned(answer)) == []
    status, _, answer = served.post(execute_body("SELECT FROM [benefits]"), served.basic("outsider"))
    assert status == 500 and "unknown cube 'benefits'" in fault_of(answer)
