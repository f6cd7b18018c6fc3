"""Run Cubes 1.1's Slicer server on Python 3.10+ (for bench_api.py's comparison).

Cubes 1.1 (2016) imports ABCs such as `collections.Mapping`, which moved to `collections.abc`
(and left `collections` in Python 3.10); alias them before Cubes is imported. Run with the
interpreter of a separate venv (never LabIS's own) holding `cubes==1.1` and the pins of
bench_api.CUBES_PINS (SQLAlchemy 1.3; Flask 2.0, since Cubes imports `flask.safe_join`):

    /tmp/cubes-venv/bin/python benchmarks/cubes_slicer.py slicer.ini
"""

import collections
import collections.abc
import sys

for _name in ("Mapping", "MutableMapping", "Sequence", "MutableSequence", "Iterable", "Callable", "Set"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

from cubes.server.base import run_server  # noqa: E402  (after the aliases, on purpose)

if __name__ == "__main__":
    run_server(sys.argv[1])
