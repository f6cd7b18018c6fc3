"""The inline XML schemas clients read before any row: a rowset's from its column list, and the
one of `mddataset` (Execute's multidimensional answer).

Each schema lets its own `xsd:schema` element stand first in `root` (an `xsd:any` in the XSD
namespace), so that an answer validates against the schema it carries, as it is.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from .envelope import NS_MDDATASET, NS_ROWSET, NS_SQL, NS_XSD
from .rowsets import Column

X = f"{{{NS_XSD}}}"
UUID_PATTERN = "[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}"


def _el(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, X + tag, {k.replace("__", ":"): v for k, v in attrs.items()})


def _schema(target: str) -> etree._Element:
    return etree.Element(
        X + "schema",
        nsmap={"xsd": NS_XSD, None: target, "sql": NS_SQL},
        targetNamespace=target,
        elementFormDefault="qualified",
    )


def _root_with_rows(schema: etree._Element, row_type: str) -> None:
    """`root` of a named type (clients such as olap3 look for the row type among several)."""
    _el(schema, "element", name="root", type="root")
    seq = _el(_el(schema, "complexType", name="root"), "sequence")
    _el(seq, "any", namespace=NS_XSD, processContents="skip", minOccurs="0", maxOccurs="1")
    _el(seq, "element", name="row", type=row_type, minOccurs="0", maxOccurs="unbounded")


def _uuid(schema: etree._Element) -> None:
    simple = _el(schema, "simpleType", name="uuid")
    _el(_el(simple, "restriction", base="xsd:string"), "pattern", value=UUID_PATTERN)


def _type(kind: str) -> str:
    return "uuid" if kind == "uuid" else f"xsd:{kind}"


@cache
def _rowset_schema_bytes(columns: tuple[Column, ...]) -> bytes:
    schema = _schema(NS_ROWSET)
    _root_with_rows(schema, "row")
    _uuid(schema)
    seq = _el(_el(schema, "complexType", name="row"), "sequence")
    for c in columns:
        attrs = {"name": c.name, "type": _type(c.type), "minOccurs": "1" if c.required else "0"}
        el = _el(seq, "element", **attrs)
        el.set(f"{{{NS_SQL}}}field", c.name)
    return bytes(etree.tostring(schema))


def rowset_schema(columns: tuple[Column, ...]) -> etree._Element:
    """A rowset's schema: `root` holds `row`s whose children are the columns, in order."""
    return etree.fromstring(_rowset_schema_bytes(columns))


TABULAR_TYPE = "xsd:string"


MDDATASET_XSD = f"""
<xsd:schema xmlns:xsd="{NS_XSD}" xmlns="{NS_MDDATASET}" targetNamespace="{NS_MDDATASET}"
    elementFormDefault="qualified">
  <xsd:element name="root">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:any namespace="{NS_XSD}" processContents="skip" minOccurs="0"/>
        <xsd:element name="OlapInfo" type="OlapInfo"/>
        <xsd:element name="Axes" type="Axes"/>
        <xsd:element name="CellData" type="CellData"/>
      </xsd:sequence>
    </xsd:complexType>
  </xsd:element>
  <xsd:complexType name="OlapInfo">
    <xsd:sequence>
      <xsd:element name="CubeInfo">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="Cube" maxOccurs="unbounded">
            <xsd:complexType><xsd:sequence>
              <xsd:element name="CubeName" type="xsd:string"/>
              <xsd:element name="LastDataUpdate" type="xsd:dateTime" minOccurs="0"/>
              <xsd:element name="LastSchemaUpdate" type="xsd:dateTime" minOccurs="0"/>
            </xsd:sequence></xsd:complexType>
          </xsd:element>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="AxesInfo">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="AxisInfo" minOccurs="0" maxOccurs="unbounded">
            <xsd:complexType>
              <xsd:sequence>
                <xsd:element name="HierarchyInfo" minOccurs="0" maxOccurs="unbounded">
                  <xsd:complexType>
                    <xsd:sequence>
                      <xsd:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
                    </xsd:sequence>
                    <xsd:attribute name="name" type="xsd:string" use="required"/>
                  </xsd:complexType>
                </xsd:element>
              </xsd:sequence>
              <xsd:attribute name="name" type="xsd:string"/>
            </xsd:complexType>
          </xsd:element>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="CellInfo">
        <xsd:complexType><xsd:sequence>
          <xsd:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:sequence>
  </xsd:complexType>
  <xsd:complexType name="Axes">
    <xsd:sequence>
      <xsd:element name="Axis" minOccurs="0" maxOccurs="unbounded">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="Tuples">
              <xsd:complexType><xsd:sequence>
                <xsd:element name="Tuple" minOccurs="0" maxOccurs="unbounded">
                  <xsd:complexType><xsd:sequence>
                    <xsd:element name="Member" type="Member" maxOccurs="unbounded"/>
                  </xsd:sequence></xsd:complexType>
                </xsd:element>
              </xsd:sequence></xsd:complexType>
            </xsd:element>
          </xsd:sequence>
          <xsd:attribute name="name" type="xsd:string"/>
        </xsd:complexType>
      </xsd:element>
    </xsd:sequence>
  </xsd:complexType>
  <xsd:complexType name="Member">
    <xsd:sequence>
      <xsd:element name="UName" type="xsd:string"/>
      <xsd:element name="Caption" type="xsd:string"/>
      <xsd:element name="LName" type="xsd:string"/>
      <xsd:element name="LNum" type="xsd:unsignedInt"/>
      <xsd:element name="DisplayInfo" type="xsd:unsignedInt"/>
      <xsd:any namespace="##targetNamespace" processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
    </xsd:sequence>
    <xsd:attribute name="Hierarchy" type="xsd:string" use="required"/>
  </xsd:complexType>
  <xsd:complexType name="CellData">
    <xsd:sequence>
      <xsd:element name="Cell" minOccurs="0" maxOccurs="unbounded">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="Value" minOccurs="0"/>
            <xsd:element name="FmtValue" type="xsd:string" minOccurs="0"/>
            <xsd:element name="FormatString" type="xsd:string" minOccurs="0"/>
          </xsd:sequence>
          <xsd:attribute name="CellOrdinal" type="xsd:unsignedInt" use="required"/>
        </xsd:complexType>
      </xsd:element>
    </xsd:sequence>
  </xsd:complexType>
</xsd:schema>
"""


@cache
def _mddataset_bytes() -> bytes:
    return bytes(
        etree.tostring(etree.fromstring(MDDATASET_XSD.encode(), etree.XMLParser(remove_blank_text=True)))
    )


def mddataset_schema() -> etree._Element:
    return etree.fromstring(_mddataset_bytes())
