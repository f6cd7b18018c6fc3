"""Cube queries: the Slicer cut/drilldown grammar, aggregate navigation, SQL generation."""
