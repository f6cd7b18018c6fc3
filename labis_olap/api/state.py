"""What the app holds: settings, the model, the engine and the Browser over them.

Model and engine are made on first use (or at startup, by the app's lifespan) unless given,
so that `create_app(settings)` alone opens nothing: the OpenAPI document is generated that way.
"""

from __future__ import annotations

import threading
from typing import Any

from ..engine.base import Engine
from ..model.loader import Model
from ..query.browser import Browser
from ..settings import Settings


class AppState:
    def __init__(self, settings: Settings, model: Model | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self._model = model
        self._engine = engine
        self.owns_engine = engine is None
        self._browser: Browser | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Model:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from ..model.loader import load_model

                    self._model = load_model(self.settings.model_dir)
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
    def browser(self) -> Browser:
        if self._browser is None:
            model, engine = self.model, self.engine
            with self._lock:
                if self._browser is None:
                    self._browser = Browser(model, engine)
        return self._browser

    @property
    def fact_key_secret(self) -> str | None:
        secret = self.settings.fact_key_secret
        return secret.get_secret_value() if secret is not None else None

    def start(self) -> None:
        """Load the model and open the engine now, so that a broken set-up fails at startup."""
        _ = self.browser

    def close(self) -> None:
        if self.owns_engine and self._engine is not None:
            engine: Any = self._engine
            engine.close()
            self._engine = None
            self._browser = None
