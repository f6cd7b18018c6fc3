"""`python -m labis_olap.cli …`: the `labis` command."""

from . import main

main()
