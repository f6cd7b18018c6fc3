"""The REST API: Slicer-compatible cube routes (FastAPI) plus LabIS extensions."""

from .app import create_app

__all__ = ["create_app"]
