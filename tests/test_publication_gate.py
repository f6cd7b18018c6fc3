"""The publication gate: a query sees a batch published in several blocks entirely or not at all."""

from __future__ import annotations

import threading
import time

from labis_olap.engine.base import Engine
from labis_olap.engine.gate import PUBLICATION, Gate


def _count(engine: Engine) -> int:
    return int(engine.query(f"SELECT count() AS n FROM `{engine.database}`.g").column("n")[0].as_py())


def test_readers_never_see_half_a_publication(engine: Engine) -> None:
    engine.execute(f"CREATE TABLE `{engine.database}`.g (x UInt8) ENGINE = MergeTree ORDER BY x")
    seen: set[int] = set()
    published = threading.Event()

    def read() -> None:
        while not published.is_set():
            seen.add(_count(engine))
        seen.add(_count(engine))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.05)
    with PUBLICATION.exclusive():
        for _ in range(3):  # three blocks, three commits
            engine.execute(f"INSERT INTO `{engine.database}`.g VALUES (1)")
            assert _count(engine) >= 1  # the publisher's own queries pass the gate
            time.sleep(0.1)
    published.set()
    reader.join()
    assert seen == {0, 3}


def test_a_waiting_publisher_is_not_starved_by_new_readers() -> None:
    gate = Gate()
    order: list[str] = []
    first_reader_in = threading.Event()
    release_first = threading.Event()

    def first_reader() -> None:
        with gate.shared():
            first_reader_in.set()
            release_first.wait()
        order.append("reader 1 out")

    def publisher() -> None:
        with gate.exclusive():
            order.append("publisher")

    def late_reader() -> None:
        with gate.shared():
            order.append("reader 2")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    first_reader_in.wait()
    threads.append(threading.Thread(target=publisher))
    threads[1].start()
    time.sleep(0.1)  # the publisher now waits for reader 1
    threads.append(threading.Thread(target=late_reader))
    threads[2].start()
    time.sleep(0.1)
    assert order == []  # reader 2 queues behind the waiting publisher
    release_first.set()
    for t in threads:
        t.join(timeout=5)
    assert order == ["reader 1 out", "publisher", "reader 2"]
