"""A cache of validated models, so that each `labis` command does not re-parse the YAML.

Parsing and validating the LabIS model with ruamel and pydantic takes about a second; a pickled
model loads in ~10 ms. The cache key is a digest of every file's path and *content* under the
model folder (not mtimes: two edits within one clock tick would look unchanged) and of the
code of the model package, so any edit to the model or to the schema misses the cache. Only
models that validated cleanly are stored. The cache lives in `LABIS_CACHE_DIR` (default
`~/.cache/labis-olap`), a folder readable by its owner only, as unpickling trusts its content;
when it cannot be written, models are simply not cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..settings import Settings

if TYPE_CHECKING:
    from .definition import Model

_CODE = Path(__file__).parent


def cache_dir(settings: Settings | None = None) -> Path:
    """LABIS_CACHE_DIR (Settings.cache_dir, read now unless given), else the XDG cache folder."""
    configured = (settings or Settings()).cache_dir
    if configured is not None:
        return configured
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labis-olap"


def _root_key(root: Path) -> str:
    return hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()


def model_digest(root: Path) -> str:
    """What the loaded model depends on: every file under the model folder and the model code
    (and the folder's own path, which located messages quote)."""
    h = hashlib.blake2b(str(root).encode(), digest_size=20)
    for base in (root, _CODE):
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            h.update(str(path.relative_to(base)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def cached_model(root: Path) -> tuple[str, Model | None]:
    """The digest of `root` and the model cached under it, if any."""
    digest = model_digest(root)
    path = cache_dir() / f"model-{_root_key(root)}-{digest}.pickle"
    try:
        with path.open("rb") as fh:
            model: Model = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return digest, None
    return digest, model


def store_model(digest: str, model: Model) -> None:
    """Write atomically (a rename), so a concurrent reader never sees half a file, and drop
    the folder's older entries."""
    folder = cache_dir()
    prefix = f"model-{_root_key(model.root)}-"
    with contextlib.suppress(OSError):  # no cache is a slower start, never an error
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".model-")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / f"{prefix}{digest}.pickle")
        finally:
            Path(tmp).unlink(missing_ok=True)
        for old in folder.glob(f"{prefix}*.pickle"):
            if old.name != f"{prefix}{digest}.pickle":
                old.unlink(missing_ok=True)
