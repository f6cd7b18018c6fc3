"""What the app holds: settings, the model, the engine and the cube service over them.

Model and engine are made on first use (or at startup, by the app's lifespan) unless given,
so that `create_app(settings)` alone opens nothing: the OpenAPI document is generated that way.
"""

from __future__ import annotations

import threading
from typing import Any

from ..engine.base import Engine
from ..model.definition import Model
from ..model.version import model_version
from ..service import CubeService, PartLimits, ServiceLimits
from ..settings import Settings


class AppState:
    def __init__(self, settings: Settings, model: Model | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self._model = model
        self._engine = engine
        self.owns_engine = engine is None
        self._service: CubeService | None = None
        self._lock = threading.Lock()
        parts = PartLimits(
            settings.max_cuts, settings.max_set_members, settings.max_drilldowns, settings.max_list_parts
        )
        self.limits = ServiceLimits(
            settings.max_pagesize, settings.query_timeout, settings.query_max_memory, parts
        )

    @property
    def model(self) -> Model:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from ..model.reader import read_model

                    self._model = read_model(self.settings.model_dir)
        return self._model

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from ..engine import open_engine

                    self._engine = open_engine(self.settings)
        return self._engine

    @property
    def service(self) -> CubeService:
        """The one door to the cubes (every route asks it, with the principal)."""
        if self._service is None:
            model, engine = self.model, self.engine
            with self._lock:
                if self._service is None:
                    self._service = CubeService(
                        model,
                        engine,
                        limits=self.limits,
                        cache_bytes=self.settings.cache_bytes,
                        model_version=lambda: model_version(model),
                        fact_key_secret=self._fact_key_secret(),
                    )
        return self._service

    def _fact_key_secret(self) -> str | None:
        secret = self.settings.fact_key_secret
        return secret.get_secret_value() if secret is not None else None

    def start(self) -> None:
        """Load the model and open the engine now, so that a broken set-up fails at startup."""
        _ = self.service.model_version

    def close(self) -> None:
        if self.owns_engine and self._engine is not None:
            engine: Any = self._engine
            engine.close()
            self._engine = None
        if self._service is not None:
            self._service.close()
            self._service = None
