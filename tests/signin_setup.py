"""What the browser sign-in tests share: the mini model with a role restricted to one region, its
facts in real embedded chDB, and the real issuer (tests/oauth2_issuer.*).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import fresh_database, make_engine
from oauth2_issuer import missing
from test_aggregate_cases import read_facts

from labis_olap.compiler.apply import apply_model
from labis_olap.engine.base import Engine
from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.physical.layout import CubeLayout

MINI = Path(__file__).parent / "fixtures" / "mini_model"
CUBE = "benefits"
ROLE = "north"
REGION = "R1"
ROLES = {
    ROLE: f'role: {ROLE}\ncubes: [{{cube: {CUBE}, members: [{{cut: "territory:{REGION}"}}]}}]\n',
}
"""`north` sees the benefits cube in region R1 only; `public` (everyone) sees nothing."""


def need_issuer() -> None:
    """Skip without Node.js or oauth2-mock-server; in CI (CI=true) fail: CI must install them."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the sign-in tests: {reason}")
        pytest.skip(reason)


def roles_model(root: Path) -> Model:
    """The mini model copied to `root` with a roles/ folder."""
    shutil.copytree(MINI, root)
    (root / "roles").mkdir()
    for name, text in ROLES.items():
        (root / "roles" / f"{name}.yaml").write_text(text)
    return read_model(root)


@contextlib.contextmanager
def loaded(data_dir: Path, model: Model, prefix: str) -> Iterator[Engine]:
    """The model's tables in a fresh database of the session's chDB, with the mini facts."""
    engine = make_engine("embedded", data_dir, fresh_database(prefix))
    try:
        apply_model(model, engine)
        layout = CubeLayout(model, model.cubes[CUBE], engine.database)
        engine.insert_arrow(layout.facts_table, read_facts(model))
        yield engine
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{engine.database}`")
