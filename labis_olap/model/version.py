"""The version of a model: a digest of everything that shapes the facts and rollups.

Loaders record it with each batch (lineage) and the cube service keys cached answers by it.
"""

from __future__ import annotations

import hashlib
import json

from .definition import Model


def model_version(model: Model) -> str:
    """A digest of the cubes, dimensions and members (definitions and member rows)."""
    blob = json.dumps(
        [
            sorted((n, c.model_dump(by_alias=True)) for n, c in model.cubes.items()),
            sorted((n, d.model_dump(by_alias=True)) for n, d in model.dimensions.items()),
            sorted(model.members.items()),
        ],
        sort_keys=True,
        default=str,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
