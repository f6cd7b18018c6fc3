"""SOAP 1.1 envelopes in and out: a request parsed safely into an `XmlaRequest`, answers and
faults written with lxml.

The parser refuses a document type declaration (no DTD, so no entity can expand or reach a
file or the network), resolves no entities, reads nothing from the network and refuses huge
trees. Element names are matched by local name: clients differ in whether they qualify the
children of Discover and Execute (zeep-based ones do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from ..errors import UserError

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_XMLA = "urn:schemas-microsoft-com:xml-analysis"
NS_ROWSET = NS_XMLA + ":rowset"
NS_MDDATASET = NS_XMLA + ":mddataset"
NS_EMPTY = NS_XMLA + ":empty"
NS_EXCEPTION = NS_XMLA + ":exception"
NS_XSD = "http://www.w3.org/2001/XMLSchema"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_SQL = "urn:schemas-microsoft-com:xml-sql"

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class XmlaError(UserError):
    """An error answered as a SOAP Fault; `code` is the XMLA error code (hex, as SSAS writes)."""

    def __init__(self, message: str, *, code: str = "0xc10e0002", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


@dataclass
class XmlaRequest:
    method: Literal["Discover", "Execute"]
    request_type: str = ""
    """Discover: the rowset asked for."""
    restrictions: dict[str, list[str]] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    command: str = ""
    """Execute: the command element's local name (Statement, Cancel, ClearCache, …)."""
    statement: str = ""
    cancel_session: str | None = None
    """Cancel: the SessionID it names (None: the request's own session)."""
    session_id: str | None = None
    begin_session: bool = False
    end_session: str | None = None


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    if el is None:
        return None
    return next((c for c in el if _local(c) == name), None)


def parse_request(body: bytes) -> XmlaRequest:
    """The Discover or Execute a SOAP envelope carries; an XmlaError for anything else."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlaError(f"the request is not well-formed XML: {exc.msg}") from None
    if root.getroottree().docinfo.doctype:
        raise XmlaError("a document type declaration is not accepted")
    if _local(root) != "Envelope" or etree.QName(root).namespace != NS_SOAP:
        raise XmlaError(
            "the request is not a SOAP 1.1 envelope", hint=f"the root element is Envelope in {NS_SOAP}"
        )
    header, body_el = _child(root, "Header"), _child(root, "Body")
    if body_el is None or len(body_el) == 0:
        raise XmlaError("the SOAP envelope has no Body")
    call = body_el[0]
    method = _local(call)
    if method not in ("Discover", "Execute"):
        raise XmlaError(f"unknown XMLA method '{method}'", hint="XMLA has Discover and Execute")
    req = XmlaRequest(method)  # type: ignore[arg-type]
    for h in header if header is not None else ():
        name = _local(h)
        if name == "Session":
            req.session_id = h.get("SessionId") or ""
        elif name == "BeginSession":
            req.begin_session = True
        elif name == "EndSession":
            req.end_session = h.get("SessionId") or ""
    plist = _child(_child(call, "Properties"), "PropertyList")
    for p in plist if plist is not None else ():
        if _local(p):
            req.properties[_local(p)] = (p.text or "").strip()
    if method == "Discover":
        req.request_type = (_text(_child(call, "RequestType")) or "").strip()
        rlist = _child(_child(call, "Restrictions"), "RestrictionList")
        for r in rlist if rlist is not None else ():
            name = _local(r)
            if not name:
                continue
            values = [(_text(v) or "") for v in r if _local(v) == "Value"] if len(r) else [r.text or ""]
            req.restrictions.setdefault(name, []).extend(values)
    else:
        command = _child(call, "Command")
        inner = next((c for c in command if _local(c)), None) if command is not None else None
        req.command = _local(inner) if inner is not None else ""
        if inner is not None and req.command == "Statement":
            req.statement = inner.text or ""
        if inner is not None and req.command == "Cancel":
            req.cancel_session = (_text(_child(inner, "SessionID")) or "").strip() or None
    return req


def _text(el: etree._Element | None) -> str | None:
    return None if el is None else (el.text or "")


def envelope(payload: etree._Element | None, session_id: str | None = None) -> bytes:
    """A SOAP envelope around `payload` (the Body's child), with a Session header if given."""
    env = etree.Element(f"{{{NS_SOAP}}}Envelope", nsmap={"soap": NS_SOAP})
    header = etree.SubElement(env, f"{{{NS_SOAP}}}Header")
    if session_id is not None:
        etree.SubElement(header, f"{{{NS_XMLA}}}Session", nsmap={None: NS_XMLA}, SessionId=session_id)
    body = etree.SubElement(env, f"{{{NS_SOAP}}}Body")
    if payload is not None:
        body.append(payload)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def response(method: str, root: etree._Element) -> etree._Element:
    """`<DiscoverResponse><return>root</return></DiscoverResponse>` (or Execute's)."""
    out = etree.Element(f"{{{NS_XMLA}}}{method}Response", nsmap={None: NS_XMLA})
    etree.SubElement(out, f"{{{NS_XMLA}}}return").append(root)
    return out


def empty_root() -> etree._Element:
    """What a command without a result answers (BeginSession, EndSession, Cancel)."""
    return etree.Element(f"{{{NS_EMPTY}}}root", nsmap={None: NS_EMPTY})


def fault(message: str, code: str = "0xc10e0002", hint: str | None = None) -> bytes:
    """A SOAP 1.1 Fault with the XMLA error in its detail (what SSAS clients show)."""
    el = etree.Element(f"{{{NS_SOAP}}}Fault", nsmap={"soap": NS_SOAP})
    etree.SubElement(el, "faultcode").text = f"XMLAnalysisError.{code}"
    text = message if hint is None else f"{message} ({hint})"
    etree.SubElement(el, "faultstring").text = text
    detail = etree.SubElement(el, "detail")
    etree.SubElement(
        detail,
        f"{{{NS_XMLA}}}Error",
        nsmap={None: NS_XMLA},
        ErrorCode=str(int(code, 16)),
        Description=text,
        Source="LabIS",
        HelpFile="",
    )
    return envelope(el)
