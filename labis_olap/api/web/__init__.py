"""The cube browser and the indicator pages: Jinja2 templates and static assets over the API."""

from .pages import install

__all__ = ["install"]
