"""A real `labis serve` over the mini model with roles and API keys, for the XMLA tests: the
server (a subprocess on 127.0.0.1), raw SOAP requests, an `olap3` connection, and the check that
an answer validates against the schema it carries inline (with lxml's XML Schema validator:
xmlschema fails to build its meta-schema once zope.interface, which olap3 needs, is imported)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from served import start_server

HERE = Path(__file__).parent
ROOT = HERE.parent
MINI = HERE / "fixtures" / "mini_model"
ROLES = {
    "north": 'role: north\ncubes: [{cube: benefits, members: [{cut: "territory:R1"}]}]\n',
    "analyst": 'role: analyst\ncubes: [{cube: "*"}]\n',
    "clerk": "role: clerk\ncubes: [{cube: benefits, measures: [amount, payments], "
    "hidden_dimensions: [gender]}]\n",
    "outsider": "role: outsider\ncubes: []\n",
    "publisher": "role: publisher\npublication: true\ncubes: [{cube: benefits}]\n",
}
DISCLOSURE = """
disclosure:
  threshold: 3
  tables: ["territory:municipality|time:year"]
  dominance: false
"""
"""The benefits cube's rules: they bind only the publication role (`publisher`)."""
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XMLA = "urn:schemas-microsoft-com:xml-analysis"
ROWSET = XMLA + ":rowset"
MDDATASET = XMLA + ":mddataset"
XSD = "http://www.w3.org/2001/XMLSchema"
PREPARE = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_aggregate_cases import read_facts
from labis_olap.compiler.apply import apply_model
from labis_olap.engine.embedded import EmbeddedEngine
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout
model = read_model(Path({model!r}))
engine = EmbeddedEngine(Path({data!r}), database="labis")
apply_model(model, engine)
layout = CubeLayout(model, model.cubes["benefits"], engine.database)
engine.insert_arrow(layout.facts_table, read_facts(model))
"""


@dataclass
class Served:
    base: str
    keys: dict[str, str]
    """API keys by role."""

    @property
    def url(self) -> str:
        return self.base + "/xmla"

    def basic(self, role: str = "analyst") -> dict[str, str]:
        token = base64.b64encode(f"excel:{self.keys[role]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def post(
        self, body: bytes | str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(
            self.url,
            data=data,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                **(headers if headers is not None else self.basic()),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, _headers(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, _headers(e.headers), e.read()

    def rest(self, path: str, role: str = "analyst", **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=self.basic(role)), timeout=60) as r:
            return json.load(r)

    def olap3(self, role: str = "analyst", **kwargs: Any) -> Any:
        import olap.xmla.xmla as xmla

        return xmla.XMLAProvider().connect(location=self.url, auth=("excel", self.keys[role]), **kwargs)


def _headers(message: Any) -> dict[str, str]:
    """Headers by lower-case name, repeated ones joined (several WWW-Authenticate challenges)."""
    return {k.lower(): ", ".join(message.get_all(k)) for k in set(message.keys())}


def labis(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def serve(tmp: Path) -> Iterator[Served]:
    model = tmp / "model"
    shutil.copytree(MINI, model)
    cube = model / "cubes" / "benefits.yaml"
    cube.write_text(cube.read_text() + DISCLOSURE)
    (model / "roles").mkdir()
    for name, text in ROLES.items():
        (model / "roles" / f"{name}.yaml").write_text(textwrap.dedent(text))
    data = tmp / "data"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LABIS_DATA_DIR": str(data),
        "LABIS_MODEL_DIR": str(model),
        "LABIS_API_KEYS_FILE": str(tmp / "api-keys.json"),
        "LABIS_RATE_LIMIT": "0",
    }
    code = PREPARE.format(tests=str(HERE), model=str(model), data=str(data))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    keys = {
        role: labis(env, "keys", "create", f"excel-{role}", "--role", role).strip().splitlines()[0]
        for role in ROLES
    }
    server, base = start_server(env, ready="/version")
    try:
        yield Served(base, keys)
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- envelopes ---------------------------------------------------------------------------------


def _restriction(name: str, value: str | list[str]) -> str:
    if isinstance(value, list):  # several values, as Excel sends a list of property names
        value = "".join(f"<Value>{v}</Value>" for v in value)
    return f"<{name}>{value}</{name}>"


def discover_body(
    request_type: str, restrictions: dict[str, str | list[str]] | None = None, **properties: str
) -> str:
    r = "".join(_restriction(k, v) for k, v in (restrictions or {}).items())
    p = "".join(f"<{k}>{v}</{k}>" for k, v in properties.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}"><soap:Body>'
        f'<Discover xmlns="{XMLA}"><RequestType>{request_type}</RequestType>'
        f"<Restrictions><RestrictionList>{r}</RestrictionList></Restrictions>"
        f"<Properties><PropertyList>{p}</PropertyList></Properties></Discover></soap:Body></soap:Envelope>"
    )


def execute_body(statement: str, header: str = "", **properties: str) -> str:
    p = "".join(f"<{k}>{v}</{k}>" for k, v in properties.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}">'
        f"<soap:Header>{header}</soap:Header><soap:Body>"
        f'<Execute xmlns="{XMLA}"><Command><Statement><![CDATA[{statement}]]></Statement></Command>'
        f"<Properties><PropertyList>{p}</PropertyList></Properties></Execute></soap:Body></soap:Envelope>"
    )


def returned(answer: bytes) -> etree._Element:
    """The `root` element inside `<…Response><return>`; an AssertionError with the Fault."""
    env = etree.fromstring(answer)
    body = env.find(f"{{{SOAP}}}Body")
    assert body is not None
    fault = body.find(f"{{{SOAP}}}Fault")
    assert fault is None, etree.tostring(fault).decode()
    ret = body[0].find(f"{{{XMLA}}}return")
    assert ret is not None
    return ret[0]


def fault_of(answer: bytes) -> str:
    env = etree.fromstring(answer)
    fault = env.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None, answer[:500]
    return str(fault.findtext("faultstring"))


def validate(root: etree._Element) -> None:
    """The answer validates against the schema it carries (its first child), as it is."""
    schema_el = root[0]
    assert etree.QName(schema_el).localname == "schema" and etree.QName(schema_el).namespace == XSD
    schema = etree.XMLSchema(etree.fromstring(etree.tostring(schema_el)))
    alone = etree.fromstring(etree.tostring(root))  # validated as a document of its own
    assert schema.validate(alone), schema.error_log


def rows(root: etree._Element) -> list[dict[str, str]]:
    return [{etree.QName(c).localname: c.text or "" for c in row} for row in root.findall(f"{{{ROWSET}}}row")]
