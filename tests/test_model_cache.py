"""The validated-model cache: a hit returns the same model, any edit misses, no cache is no error."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from labis_olap.errors import ModelError
from labis_olap.model import cache, reader
from labis_olap.model.reader import read_model

MINI = Path(__file__).parent / "fixtures" / "mini_model"


@pytest.fixture()
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABIS_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copytree(MINI, tmp_path / "model")
    return tmp_path / "model"


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every YAML file the model reader parses."""
    seen: list[Path] = []
    real = reader.load_yaml

    def spy(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(reader, "load_yaml", spy)
    return seen


def test_second_load_is_a_cache_hit(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = read_model(model_dir)
    parsed = _parses(monkeypatch)
    second = read_model(model_dir)
    assert parsed == []
    assert second.cubes == first.cubes and second.dimensions == first.dimensions
    assert second.root == model_dir
    assert len(list((model_dir.parent / "cache").glob("model-*.pickle"))) == 1


def test_an_edit_of_the_same_size_misses(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read_model(model_dir)
    cube_file = next((model_dir / "cubes").glob("*.yaml"))
    text = cube_file.read_text()
    label = next(word for word in text.split() if word.isalpha() and len(word) > 4)
    cube_file.write_text(text.replace(label, label[::-1].swapcase(), 1))  # same length, same mtime tick
    parsed = _parses(monkeypatch)
    with contextlib.suppress(ModelError):  # the edit may break the model; what matters is the re-read
        read_model(model_dir)
    assert cube_file in parsed


def test_unwritable_cache_still_loads(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LABIS_CACHE_DIR", str(blocker / "cache"))
    assert read_model(model_dir).cubes
    assert read_model(model_dir).cubes
    assert cache.cache_dir() == blocker / "cache"
