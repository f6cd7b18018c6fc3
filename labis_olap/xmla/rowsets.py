"""The Discover rowsets as data: each one's columns (name, XSD type, restriction or not) in the
order of the XMLA specification, so that the inline schema, DISCOVER_SCHEMA_ROWSETS and the rows
all come from one list.

A column written `NAME:type` is optional in the row (minOccurs 0), `NAME:type!` is always there,
and a trailing `*` makes it a restriction clients may filter by. Types are XSD simple types
(`uuid` is the schema's own string pattern); a row's values are written in the type's lexical
form (booleans `true`/`false`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    restriction: bool


@dataclass(frozen=True)
class Rowset:
    name: str
    guid: str
    spec: str
    description: str = ""

    @cached_property
    def columns(self) -> tuple[Column, ...]:
        out = []
        for word in self.spec.split():
            restriction = word.endswith("*")
            word = word.rstrip("*")
            required = word.endswith("!")
            name, _, kind = word.rstrip("!").partition(":")
            out.append(Column(name, kind or "string", required, restriction))
        return tuple(out)

    @cached_property
    def restrictions(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.restriction)

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns)


def _r(name: str, guid: str, spec: str, description: str = "") -> Rowset:
    return Rowset(name, guid, spec, description)


ROWSETS: dict[str, Rowset] = {
    r.name: r
    for r in (
        _r(
            "DISCOVER_DATASOURCES",
            "06C03D41-F66D-49F3-B1B8-987F7AF4CF18",
            "DataSourceName:string!* DataSourceDescription:string URL:string* DataSourceInfo:string "
            "ProviderName:string!* ProviderType:string* AuthenticationMode:string*",
            "the data source: this server",
        ),
        _r(
            "DISCOVER_PROPERTIES",
            "4B40ADFB-8B09-4758-97BB-636E8AE97BCF",
            "PropertyName:string!* PropertyDescription:string PropertyType:string "
            "PropertyAccessType:string! IsRequired:boolean Value:string",
            "the XMLA properties the server knows, with their values",
        ),
        _r(
            "DISCOVER_SCHEMA_ROWSETS",
            "EEA0302B-7922-4992-8991-0E605D0E5593",
            "SchemaName:string!* SchemaGuid:uuid Restrictions:string Description:string "
            "RestrictionsMask:unsignedLong",
            "the rowsets Discover answers",
        ),
        _r(
            "DISCOVER_ENUMERATORS",
            "55A9E78B-ACCB-45B4-95A6-94C5065617A7",
            "EnumName:string!* EnumDescription:string EnumType:string! ElementName:string! "
            "ElementDescription:string ElementValue:string",
            "the enumerations the properties take",
        ),
        _r(
            "DISCOVER_LITERALS",
            "C3EF5ECB-0A07-4665-A140-B075722DBDC2",
            "LiteralName:string!* LiteralValue:string LiteralInvalidChars:string "
            "LiteralInvalidStartingChars:string LiteralMaxLength:int LiteralNameEnumValue:int",
            "how names are quoted",
        ),
        _r(
            "DISCOVER_KEYWORDS",
            "1426C443-4CDD-4A40-8F45-572FAB9BBAA1",
            "Keyword:string!*",
            "MDX keywords",
        ),
        _r(
            "DBSCHEMA_CATALOGS",
            "C8B52211-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string!* DESCRIPTION:string ROLES:string DATE_MODIFIED:dateTime "
            "COMPATIBILITY_LEVEL:int TYPE:int VERSION:int DATABASE_ID:string DATE_QUERIED:dateTime "
            "CURRENTLY_USED:boolean POPULARITY:double WEIGHTEDPOPULARITY:double "
            "CLIENTCACHEREFRESHPOLICY:int",
            "the catalog: one, this server's model",
        ),
        _r(
            "DBSCHEMA_TABLES",
            "C8B52229-5CF3-11CE-ADE5-00AA0044773D",
            "TABLE_CATALOG:string* TABLE_SCHEMA:string* TABLE_NAME:string!* TABLE_TYPE:string!* "
            "TABLE_GUID:uuid DESCRIPTION:string TABLE_PROPID:unsignedInt DATE_CREATED:dateTime "
            "DATE_MODIFIED:dateTime",
            "the cubes as tables",
        ),
        _r(
            "MDSCHEMA_CUBES",
            "C8B522D8-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string!* CUBE_TYPE:string!* CUBE_GUID:uuid "
            "CREATED_ON:dateTime LAST_SCHEMA_UPDATE:dateTime SCHEMA_UPDATED_BY:string "
            "LAST_DATA_UPDATE:dateTime DATA_UPDATED_BY:string DESCRIPTION:string "
            "IS_DRILLTHROUGH_ENABLED:boolean IS_LINKABLE:boolean IS_WRITE_ENABLED:boolean "
            "IS_SQL_ENABLED:boolean CUBE_CAPTION:string BASE_CUBE_NAME:string* CUBE_SOURCE:unsignedShort* "
            "PREFERRED_QUERY_PATTERNS:unsignedShort",
        ),
        _r(
            "MDSCHEMA_DIMENSIONS",
            "C8B522D9-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* DIMENSION_NAME:string* "
            "DIMENSION_UNIQUE_NAME:string!* DIMENSION_GUID:uuid DIMENSION_CAPTION:string! "
            "DIMENSION_ORDINAL:unsignedInt DIMENSION_TYPE:short DIMENSION_CARDINALITY:unsignedInt "
            "DEFAULT_HIERARCHY:string DESCRIPTION:string IS_VIRTUAL:boolean IS_READWRITE:boolean "
            "DIMENSION_UNIQUE_SETTINGS:int DIMENSION_MASTER_UNIQUE_NAME:string DIMENSION_IS_VISIBLE:boolean "
            "CUBE_SOURCE:unsignedShort* DIMENSION_VISIBILITY:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_HIERARCHIES",
            "C8B522DA-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* DIMENSION_UNIQUE_NAME:string* "
            "HIERARCHY_NAME:string* HIERARCHY_UNIQUE_NAME:string!* HIERARCHY_GUID:uuid "
            "HIERARCHY_CAPTION:string! DIMENSION_TYPE:short HIERARCHY_CARDINALITY:unsignedInt "
            "DEFAULT_MEMBER:string ALL_MEMBER:string DESCRIPTION:string STRUCTURE:short IS_VIRTUAL:boolean "
            "IS_READWRITE:boolean DIMENSION_UNIQUE_SETTINGS:int DIMENSION_MASTER_UNIQUE_NAME:string "
            "DIMENSION_IS_VISIBLE:boolean HIERARCHY_ORDINAL:unsignedInt DIMENSION_IS_SHARED:boolean "
            "HIERARCHY_IS_VISIBLE:boolean HIERARCHY_ORIGIN:unsignedShort* HIERARCHY_DISPLAY_FOLDER:string "
            "CUBE_SOURCE:unsignedShort* HIERARCHY_VISIBILITY:unsignedShort* PARENT_CHILD:boolean "
            "LEVELS:unsignedInt",
        ),
        _r(
            "MDSCHEMA_LEVELS",
            "C8B522DB-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* DIMENSION_UNIQUE_NAME:string* "
            "HIERARCHY_UNIQUE_NAME:string* LEVEL_NAME:string* LEVEL_UNIQUE_NAME:string!* LEVEL_GUID:uuid "
            "LEVEL_CAPTION:string! LEVEL_NUMBER:unsignedInt! LEVEL_CARDINALITY:unsignedInt LEVEL_TYPE:int "
            "DESCRIPTION:string CUSTOM_ROLLUP_SETTINGS:int LEVEL_UNIQUE_SETTINGS:int "
            "LEVEL_IS_VISIBLE:boolean LEVEL_ORDERING_PROPERTY:string LEVEL_DBTYPE:int "
            "LEVEL_MASTER_UNIQUE_NAME:string LEVEL_NAME_SQL_COLUMN_NAME:string "
            "LEVEL_KEY_SQL_COLUMN_NAME:string LEVEL_UNIQUE_NAME_SQL_COLUMN_NAME:string "
            "LEVEL_ATTRIBUTE_HIERARCHY_NAME:string LEVEL_KEY_CARDINALITY:unsignedShort "
            "LEVEL_ORIGIN:unsignedShort* CUBE_SOURCE:unsignedShort* LEVEL_VISIBILITY:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_MEASURES",
            "C8B522DC-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* MEASURE_NAME:string* "
            "MEASURE_UNIQUE_NAME:string!* MEASURE_CAPTION:string! MEASURE_GUID:uuid MEASURE_AGGREGATOR:int "
            "DATA_TYPE:unsignedShort NUMERIC_PRECISION:unsignedShort NUMERIC_SCALE:short "
            "MEASURE_UNITS:string DESCRIPTION:string EXPRESSION:string MEASURE_IS_VISIBLE:boolean "
            "LEVELS_LIST:string MEASURE_NAME_SQL_COLUMN_NAME:string MEASURE_UNQUALIFIED_CAPTION:string "
            "MEASUREGROUP_NAME:string* MEASURE_DISPLAY_FOLDER:string DEFAULT_FORMAT_STRING:string! "
            "CUBE_SOURCE:unsignedShort* MEASURE_VISIBILITY:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_MEASUREGROUPS",
            "E1625EBF-FA96-42FD-BEA6-DB90ADAFD96B",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* MEASUREGROUP_NAME:string!* "
            "DESCRIPTION:string IS_WRITE_ENABLED:boolean MEASUREGROUP_CAPTION:string!",
        ),
        _r(
            "MDSCHEMA_MEASUREGROUP_DIMENSIONS",
            "A07CCD33-8148-11D0-87BB-00C04FC33942",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* MEASUREGROUP_NAME:string!* "
            "MEASUREGROUP_CARDINALITY:string DIMENSION_UNIQUE_NAME:string!* DIMENSION_CARDINALITY:string "
            "DIMENSION_IS_VISIBLE:boolean DIMENSION_IS_FACT_DIMENSION:boolean DIMENSION_PATH:string "
            "DIMENSION_GRANULARITY:string DIMENSION_VISIBILITY:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_MEMBERS",
            "C8B522DE-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* DIMENSION_UNIQUE_NAME:string* "
            "HIERARCHY_UNIQUE_NAME:string* LEVEL_UNIQUE_NAME:string* LEVEL_NUMBER:unsignedInt* "
            "MEMBER_ORDINAL:unsignedInt MEMBER_NAME:string* MEMBER_UNIQUE_NAME:string!* MEMBER_TYPE:int* "
            "MEMBER_GUID:uuid MEMBER_CAPTION:string!* CHILDREN_CARDINALITY:unsignedInt "
            "PARENT_LEVEL:unsignedInt PARENT_UNIQUE_NAME:string PARENT_COUNT:unsignedInt DESCRIPTION:string "
            "EXPRESSION:string MEMBER_KEY:string IS_PLACEHOLDERMEMBER:boolean IS_DATAMEMBER:boolean "
            "TREE_OP:int* CUBE_SOURCE:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_PROPERTIES",
            "C8B522DD-5CF3-11CE-ADE5-00AA0044773D",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* DIMENSION_UNIQUE_NAME:string* "
            "HIERARCHY_UNIQUE_NAME:string* LEVEL_UNIQUE_NAME:string* MEMBER_UNIQUE_NAME:string* "
            "PROPERTY_TYPE:short* PROPERTY_NAME:string!* PROPERTY_CAPTION:string! DATA_TYPE:unsignedShort "
            "CHARACTER_MAXIMUM_LENGTH:unsignedInt CHARACTER_OCTET_LENGTH:unsignedInt "
            "NUMERIC_PRECISION:unsignedShort NUMERIC_SCALE:short DESCRIPTION:string "
            "PROPERTY_CONTENT_TYPE:short* SQL_COLUMN_NAME:string LANGUAGE:unsignedShort "
            "PROPERTY_ORIGIN:unsignedShort* PROPERTY_ATTRIBUTE_HIERARCHY_NAME:string "
            "PROPERTY_CARDINALITY:string MIME_TYPE:string PROPERTY_IS_VISIBLE:boolean "
            "CUBE_SOURCE:unsignedShort* PROPERTY_VISIBILITY:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_SETS",
            "A07CCD0B-8148-11D0-87BB-00C04FC33942",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* SET_NAME:string!* SCOPE:int!* "
            "DESCRIPTION:string EXPRESSION:string DIMENSIONS:string SET_CAPTION:string "
            "SET_DISPLAY_FOLDER:string SET_EVALUATION_CONTEXT:int HIERARCHY_UNIQUE_NAME:string* "
            "CUBE_SOURCE:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_KPIS",
            "2AE44109-ED3D-4842-B16F-B694D1CB0E3F",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string* MEASUREGROUP_NAME:string "
            "KPI_NAME:string!* KPI_CAPTION:string KPI_DESCRIPTION:string KPI_DISPLAY_FOLDER:string "
            "KPI_VALUE:string KPI_GOAL:string KPI_STATUS:string KPI_TREND:string KPI_STATUS_GRAPHIC:string "
            "KPI_TREND_GRAPHIC:string KPI_WEIGHT:string KPI_CURRENT_TIME_MEMBER:string "
            "KPI_PARENT_KPI_NAME:string SCOPE:int CUBE_SOURCE:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_ACTIONS",
            "A07CCD08-8148-11D0-87BB-00C04FC33942",
            "CATALOG_NAME:string* SCHEMA_NAME:string* CUBE_NAME:string!* ACTION_NAME:string!* "
            "ACTION_TYPE:int* COORDINATE:string!* COORDINATE_TYPE:int!* ACTION_CAPTION:string "
            "DESCRIPTION:string CONTENT:string APPLICATION:string INVOCATION:int* "
            "CUBE_SOURCE:unsignedShort*",
        ),
        _r(
            "MDSCHEMA_FUNCTIONS",
            "A07CCD07-8148-11D0-87BB-00C04FC33942",
            "FUNCTION_NAME:string!* DESCRIPTION:string PARAMETER_LIST:string RETURN_TYPE:int ORIGIN:int!* "
            "INTERFACE_NAME:string* LIBRARY_NAME:string* DLL_NAME:string HELP_FILE:string HELP_CONTEXT:int "
            "OBJECT:string CAPTION:string",
        ),
    )
}
"""Every rowset Discover answers, by request type."""
