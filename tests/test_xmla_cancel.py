"""XMLA Cancel stops the statement running in a session (xmla/__init__.py), on real chDB.

In-process, so that the statement can be held at its first engine query (the request's
`on_query` hook, which the server's client watch uses too) while another request — as Excel
sends it, on another connection — cancels its session: the statement then ends in a SOAP Fault
saying it was cancelled, and the session answers the next statement as before. A Cancel names
only its principal's sessions.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import mini_database
from lxml import etree
from xmla_client import SOAP, XMLA, execute_body

from labis_olap.model.definition import Model
from labis_olap.model.reader import read_model
from labis_olap.service import CubeService, Principal
from labis_olap.xmla import SessionStore, handle

MINI = Path(__file__).parent / "fixtures" / "mini_model"
STATEMENT = "SELECT {[Measures].[amount]} ON 0, [territory].[region].Members ON 1 FROM [benefits]"
ANALYST = Principal("analyst-1")


@pytest.fixture(scope="module")
def service(data_dir: Path) -> Iterator[CubeService]:
    model: Model = read_model(MINI)
    with mini_database(data_dir, model, "xmla_cancel") as engine:
        yield CubeService(model, engine)


def begin(service: CubeService, store: SessionStore) -> str:
    answer = handle(execute_body("", f"<BeginSession xmlns='{XMLA}'/>").encode(),
                    service, ANALYST, store)  # fmt: skip
    session = etree.fromstring(answer.body).find(f".//{{{XMLA}}}Session")
    assert answer.status == 200 and session is not None
    return str(session.get("SessionId"))


def in_session(session_id: str) -> str:
    return f"<Session xmlns='{XMLA}' SessionId='{session_id}'/>"


def cancel_body(session_id: str, header: str = "") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header>{header}</soap:Header><soap:Body>'
        f'<Execute xmlns="{XMLA}"><Command><Cancel><SessionID>{session_id}</SessionID></Cancel></Command>'
        "<Properties/></Execute></soap:Body></soap:Envelope>"
    ).encode()


def fault_text(body: bytes) -> str:
    return " ".join(etree.fromstring(body).xpath("//faultstring/text()"))


def test_cancel_stops_the_statement_running_in_the_session(service: CubeService) -> None:
    store = SessionStore()
    session_id = begin(service, store)
    held, go = threading.Event(), threading.Event()
    answers: list[tuple[int, bytes]] = []

    def statement() -> None:
        with service.cancellable() as token:  # the request's own, as the server's guard makes it
            token.on_query = lambda: (held.set(), go.wait(30))
            a = handle(execute_body(STATEMENT, in_session(session_id)).encode(), service, ANALYST, store)
            answers.append((a.status, a.body))

    running = threading.Thread(target=contextvars.copy_context().run, args=(statement,))
    running.start()
    assert held.wait(30), "the statement never reached the engine"
    # another principal cannot cancel it: the session is not theirs
    other = handle(cancel_body(session_id), service, Principal("someone-else"), store)
    assert other.status == 500 and "does not exist or has ended" in fault_text(other.body)
    cancelled = handle(cancel_body(session_id), service, ANALYST, store)
    assert cancelled.status == 200, cancelled.body
    go.set()
    running.join(30)
    status, body = answers[0]
    assert status == 500 and "it was cancelled (XMLA Cancel)" in fault_text(body), body
    # the session goes on: its next statement is answered
    again = handle(execute_body(STATEMENT, in_session(session_id)).encode(), service, ANALYST, store)
    assert again.status == 200 and b"CellData" in again.body, again.body


def test_a_statement_not_cancelled_is_answered_and_forgotten(service: CubeService) -> None:
    store = SessionStore()
    session_id = begin(service, store)
    answer = handle(execute_body(STATEMENT, in_session(session_id)).encode(), service, ANALYST, store)
    assert answer.status == 200
    assert store.running(store.get(session_id, ANALYST)) == []
    nothing = handle(cancel_body(session_id), service, ANALYST, store)  # nothing runs: a no-op
    assert nothing.status == 200
