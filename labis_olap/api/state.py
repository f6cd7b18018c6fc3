"""What the app holds: settings, the model, the engine and the cube service over them.

Model and engine are made on first use (or at startup, by the app's lifespan) unless given,
so that `create_app(settings)` alone opens nothing: the OpenAPI document is generated that way.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from ..compiler.members import attach_loaded_members
from ..engine.base import Engine
from ..model.definition import Model
from ..model.version import model_version
from ..security import Authenticator
from ..service import CubeService, PartLimits, ServiceLimits
from ..service.audit import AuditLog
from ..settings import Settings

if TYPE_CHECKING:
    from ..engine.health import Problem

log = logging.getLogger("labis.api")


class AppState:
    def __init__(self, settings: Settings, model: Model | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self._model = model
        self._engine = engine
        self.owns_engine = engine is None
        self._service: CubeService | None = None
        self._audit: AuditLog | None = None
        self._lock = threading.Lock()
        self.problems: list[Problem] = []
        """What the storage checks found at start (engine/health.py); [] when healthy."""
        self.authenticator = Authenticator(settings)
        """Who sends each request (api/deps.principal_of asks it)."""
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
    def opened_engine(self) -> Engine | None:
        """The engine if it is open (a metrics scrape must not open one)."""
        return self._engine

    @property
    def opened_service(self) -> CubeService | None:
        return self._service

    @property
    def service(self) -> CubeService:
        """The one door to the cubes (every route asks it, with the principal)."""
        if self._service is None:
            model, engine = self.model, self.engine
            with self._lock:
                if self._service is None:
                    model = self._model = attach_loaded_members(model, engine)
                    self._service = CubeService(
                        model,
                        engine,
                        limits=self.limits,
                        cache_bytes=self.settings.cache_bytes,
                        model_version=lambda: model_version(model),
                        fact_key_secret=self._fact_key_secret(),
                        audit=self._audit_log(),
                    )
        return self._service

    def reset_service(self) -> None:
        """A new cube service on the next request: after a member load, whose members the old
        one's caches (labels, result cache, model version) do not know."""
        with self._lock:
            self._service = None

    def _audit_log(self) -> AuditLog | None:
        """The one audit log of this process (a model applied while serving keeps writing it)."""
        s = self.settings
        if self._audit is None and s.audit:
            self._audit = AuditLog(s.audit_path, s.audit_max_bytes, s.audit_backups)
        return self._audit

    def replace_model(self, model: Model) -> None:
        """Serve `model` from now on (it was applied to the engine: compiler/apply.py). A request
        that has started finishes with the service it began with; the next one gets a new
        service over the new model, with an empty result cache and the same audit log; the
        storage checks run again, since the tables may have changed."""
        with self._lock:
            self._model = model
            self._service = None
        self.problems = self.check_storage()
        for p in self.problems:
            log.error("storage check: %s: %s", p.table, p.problem)
        if self.problems:
            self.service.set_unhealthy(p.table for p in self.problems)
        log.info("serving model version %s", self.service.model_version)

    def reload_model(self) -> None:
        """Read the model folder again and serve it (after `labis apply` on a ClickHouse
        server, told by SIGHUP): a model with problems is logged and the old one kept."""
        from ..errors import UserError
        from ..model.reader import read_model

        try:
            model = read_model(self.settings.model_dir)
        except UserError as exc:
            log.error("model not reloaded, the old one is served: %s", exc)
            return
        self.replace_model(model)

    def _fact_key_secret(self) -> str | None:
        secret = self.settings.fact_key_secret
        return secret.get_secret_value() if secret is not None else None

    def start(self) -> None:
        """Load the model and open the engine now, so that a broken set-up fails at startup; then
        fetch the identity provider's keys (so the first request does not wait for them); check
        the storage (engine/health.py): what is broken is logged, reported by /health
        and never read (a broken rollup's queries are answered from the facts)."""
        _ = self.service.model_version
        self.authenticator.warm_up()
        self.problems = self.check_storage()
        for p in self.problems:
            log.error("storage check: %s: %s", p.table, p.problem)
        if self.problems:
            self.service.set_unhealthy(p.table for p in self.problems)

    def check_storage(self) -> list[Problem]:
        """The storage checks (engine/health.py), run now: at start, and for `labis check` while
        this server holds the data directory."""
        from ..engine.health import check_storage

        return check_storage(self.engine, self.model)

    def close(self) -> None:
        if self.owns_engine and self._engine is not None:
            engine: Any = self._engine
            engine.close()
            self._engine = None
        if self._service is not None:
            self._service.close()
            self._service = None
        if self._audit is not None:
            self._audit.close()
            self._audit = None
