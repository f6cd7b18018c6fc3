"""The physical catalogue: every table, view, dictionary and identifier name, and every DDL text.

A pure layer over `labis_olap.model`: it produces names and statement text for a `Topology`
(one node by default, or a cluster) and executes nothing. `compiler.apply`, the loaders and the
engines run what it produces, so the storage layout is decided in one place.
"""
