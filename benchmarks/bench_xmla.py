"""XMLA benchmark: a real `labis serve` on loopback over the demo facts, result cache off.

    python benchmarks/bench_xmla.py [--rows 10000000] [--data-dir /tmp/labis-bench-xmla]
                                    [--from /tmp/labis-demo-10m] [--runs 21]

(a) Discover round trips as Excel makes them while it opens a cube (properties, cubes,
    hierarchies, levels, measures, the members of a level), one at a time on a kept-alive
    connection.
(b) Excel's pivot drilling one region open (`NON EMPTY Hierarchize(DrilldownMember(
    DrilldownLevel({[territory].[region].[All]}), {region}))`, two measures, one year) as an
    XMLA Execute, against the REST aggregate that answers the same cells (municipality
    drilldown with rollup subtotals) and `POST /mdx`, in the same run; the floor is the engine
    time the REST aggregate reports (`explain=1`). The goal is XMLA ≤ 2× REST.

The data directory is a copy of --from when it does not hold the demo already (chDB locks the
directory it serves: never the original), else `labis demo --rows N` (bench_api.ensure_demo).
Medians: a shared 2-core machine is noisy.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import MARKER, ensure_demo, labis_server, sequential, table

XMLA = "urn:schemas-microsoft-com:xml-analysis"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
REGION = "[territory].[region].[region].&[LV00A]"
EXCEL = (
    "SELECT {[Measures].[registered_unemployed], [Measures].[new_registrations]} "
    "DIMENSION PROPERTIES PARENT_UNIQUE_NAME,HIERARCHY_UNIQUE_NAME ON COLUMNS, "
    "NON EMPTY Hierarchize(DrilldownMember("
    "{{DrilldownLevel({[territory].[region].[All]},,,INCLUDE_CALC_MEMBERS)}}, "
    "{" + REGION + "},,,INCLUDE_CALC_MEMBERS)) DIMENSION PROPERTIES PARENT_UNIQUE_NAME,HIERARCHY_UNIQUE_NAME "
    "ON ROWS FROM [unemployment] WHERE ([time].[ymd].[year].&[2024]) "
    "CELL PROPERTIES VALUE, FORMAT_STRING, LANGUAGE, BACK_COLOR, FORE_COLOR, FONT_FLAGS"
)
REST = (
    "/cube/unemployment/aggregate?aggregates=registered_unemployed|new_registrations"
    "&drilldown=territory:municipality&cut=time:2024&subtotals=rollup"
)
DISCOVERS = [
    ("DISCOVER_PROPERTIES", ""),
    ("MDSCHEMA_CUBES", "<CUBE_SOURCE>1</CUBE_SOURCE>"),
    ("MDSCHEMA_HIERARCHIES", "<CUBE_NAME>unemployment</CUBE_NAME>"),
    ("MDSCHEMA_LEVELS", "<CUBE_NAME>unemployment</CUBE_NAME>"),
    ("MDSCHEMA_MEASURES", "<CUBE_NAME>unemployment</CUBE_NAME>"),
    (
        "MDSCHEMA_MEMBERS",
        "<CUBE_NAME>unemployment</CUBE_NAME><LEVEL_UNIQUE_NAME>[territory].[region].[municipality]"
        "</LEVEL_UNIQUE_NAME>",
    ),
]


def discover(request_type: str, restrictions: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><Discover xmlns="{XMLA}">'
        f"<RequestType>{request_type}</RequestType><Restrictions><RestrictionList>{restrictions}"
        "</RestrictionList></Restrictions><Properties><PropertyList><Catalog>LabIS</Catalog>"
        "</PropertyList></Properties></Discover></soap:Body></soap:Envelope>"
    ).encode()


def execute(statement: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><Execute xmlns="{XMLA}"><Command><Statement>'
        f"<![CDATA[{statement}]]></Statement></Command><Properties><PropertyList><Catalog>LabIS</Catalog>"
        "</PropertyList></Properties></Execute></soap:Body></soap:Envelope>"
    ).encode()


def posted(base: str, path: str, body: bytes, kind: str, runs: int) -> tuple[float, int]:
    """(median ms, answer bytes) of POSTing `body`, one at a time on a kept-alive connection."""
    host, _, port = base.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    times, size = [], 0
    try:
        for i in range(runs + 2):  # 2 warm-up requests
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": kind})
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200 or b":Fault" in answer[:2000]:
                raise RuntimeError(f"{path}: {response.status} {answer[-500:]!r}")
            if i >= 2:
                times.append((time.perf_counter() - t0) * 1000)
            size = len(answer)
    finally:
        conn.close()
    return statistics.median(times), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/labis-bench-xmla"))
    ap.add_argument("--from", dest="source", type=Path, default=Path("/tmp/labis-demo-10m"))
    ap.add_argument("--port", type=int, default=8860)
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    marker = args.source / MARKER
    if not args.data_dir.exists() and marker.exists() and marker.read_text().strip() == str(args.rows):
        print(f"data: copying {args.source} to {args.data_dir}")
        shutil.copytree(args.source, args.data_dir, symlinks=True)
    ensure_demo(args.data_dir, args.rows)

    with (
        tempfile.TemporaryDirectory(prefix="bench_xmla_") as tmp,
        labis_server(args.data_dir, args.port, cache=False, work=Path(tmp)) as base,
    ):
        found = [
            (name, *posted(base, "/xmla", discover(name, r), "text/xml", args.runs)) for name, r in DISCOVERS
        ]
        xmla_ms, xmla_bytes = posted(base, "/xmla", execute(EXCEL), "text/xml", args.runs)
        mdx_ms, _ = posted(base, "/mdx", EXCEL.encode(), "text/plain", args.runs)
        engine_ms, rest_ms, source = sequential(base, REST, args.runs, explain=True)

    table(
        f"(a) Discover round trips, {args.rows:,} demo facts, HTTP p50 ms (median of {args.runs})",
        ["rowset", "ms", "bytes"],
        [[name, f"{ms:.1f}", f"{size:,}"] for name, ms, size in found],
    )
    table(
        "(b) Excel's drilled pivot (2 measures, regions, one region's municipalities, 2024), "
        "HTTP p50 ms, cache off",
        ["answer", "ms", "× REST", "× floor"],
        [
            [
                f"XMLA Execute (mddataset, {xmla_bytes:,} bytes)",
                f"{xmla_ms:.1f}",
                f"{xmla_ms / rest_ms:.2f}",
                f"{xmla_ms / engine_ms:.1f}",
            ],
            [
                "POST /mdx (JSON cell set)",
                f"{mdx_ms:.1f}",
                f"{mdx_ms / rest_ms:.2f}",
                f"{mdx_ms / engine_ms:.1f}",
            ],
            [
                "REST /aggregate, municipality + rollup subtotals",
                f"{rest_ms:.1f}",
                "1.00",
                f"{rest_ms / engine_ms:.1f}",
            ],
            [
                f"floor: the REST query's engine time ({source})",
                f"{engine_ms:.1f}",
                f"{engine_ms / rest_ms:.2f}",
                "1.0",
            ],
        ],
    )
    print(
        f"\ngoal XMLA ≤ 2× REST: {'met' if xmla_ms <= 2 * rest_ms else 'NOT met'} ({xmla_ms / rest_ms:.2f}×)"
    )


if __name__ == "__main__":
    main()
