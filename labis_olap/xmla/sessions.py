"""XMLA sessions: what BeginSession opens, Session names and EndSession closes.

A session belongs to the principal that opened it (another principal naming its id is told
it does not exist), remembers the caption language it was opened with, and is forgotten after
an idle hour or when the store is full (oldest first). A session knows the statements running
in it (their cancellations), so that `Cancel` can stop them; nothing else is kept: every
statement is answered on its own.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from ..service import Cancellation
from ..service.principal import Principal
from .envelope import XmlaError

MAX_SESSIONS = 10_000
IDLE_SECONDS = 3600.0


@dataclass
class XmlaSession:
    id: str
    owner: Principal
    lang: str | None
    used: float
    running: list[Cancellation] = field(default_factory=list)
    """The running statements' cancellations (the store's lock guards the list)."""


class SessionStore:
    def __init__(self, entries: int = MAX_SESSIONS, idle: float = IDLE_SECONDS) -> None:
        self.entries, self.idle = entries, idle
        self._items: OrderedDict[str, XmlaSession] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, owner: Principal, lang: str | None) -> XmlaSession:
        session = XmlaSession(
            str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)).upper(), owner, lang, time.monotonic()
        )
        with self._lock:
            self._items[session.id] = session
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return session

    def get(self, session_id: str, owner: Principal) -> XmlaSession:
        """The live session of this id and owner; a Fault-bound XmlaError otherwise."""
        now = time.monotonic()
        with self._lock:
            session = self._items.get(session_id)
            if session is not None and now - session.used > self.idle:
                del self._items[session_id]
                session = None
            if session is None or session.owner != owner:
                raise XmlaError(
                    f"the session '{session_id}' does not exist or has ended",
                    code="0xc1060000",
                    hint="send BeginSession for a new one",
                )
            session.used = now
            self._items.move_to_end(session_id)
            return session

    def end(self, session_id: str, owner: Principal) -> None:
        self.get(session_id, owner)
        with self._lock:
            self._items.pop(session_id, None)

    def track(self, session: XmlaSession, token: Cancellation) -> None:
        with self._lock:
            session.running.append(token)

    def untrack(self, session: XmlaSession, token: Cancellation) -> None:
        with self._lock:
            session.running[:] = [t for t in session.running if t is not token]

    def running(self, session: XmlaSession) -> list[Cancellation]:
        """The statements running in the session now."""
        with self._lock:
            return list(session.running)

    def __len__(self) -> int:
        return len(self._items)
