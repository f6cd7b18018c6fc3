"""The pseudonymisation key: `labis key create`, one source for every process (the settings,
else the default key file), and loads handed to a running `labis serve`, which pseudonymises
with its own key and says so when it has none or another one than the command's.

Real processes and a real server on real chDB; the key files are made by `labis key create`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import AS_ANALYST, KEYS_FILE, fresh_database, make_engine
from served import start_server
from typer.testing import CliRunner

from labis_olap.cli import app
from labis_olap.errors import UserError
from labis_olap.loaders import store
from labis_olap.privacy import default_key_path, find_key, key_id, pseudonym_hex
from labis_olap.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "fixtures" / "loaders"
SPOLIS_ROWS = 40  # tests/fixtures/loaders/spolis_2024.csv


def _labis(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labis_olap.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any pseudonymisation key, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABIS_PSEUDONYM_KEY")}
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "LABIS_API_KEYS_FILE": str(KEYS_FILE), **extra}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- labis key create ------------------------------------------------------------------------


def test_key_create_writes_a_private_random_key_once(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "secrets" / "labis" / "pseudonym.key"
    old = os.umask(0)  # the modes come from the creation itself, not from the caller's umask
    try:
        made = runner.invoke(app, ["key", "create", str(target)], env={"LABIS_PSEUDONYM_KEY": ""})
    finally:
        os.umask(old)
    assert made.exit_code == 0, made.output
    text = target.read_text(encoding="ascii")
    assert re.fullmatch(r"[0-9a-f]{64}\n", text)
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    assert f"export LABIS_PSEUDONYM_KEY_FILE={target}" in made.output
    assert key_id(text.strip().encode()) in made.output and "back it up" in made.output
    # Another key each time; never over an existing file.
    other = tmp_path / "other.key"
    assert runner.invoke(app, ["key", "create", str(other)]).exit_code == 0
    assert other.read_text() != text
    again = runner.invoke(app, ["key", "create", str(target)])
    assert again.exit_code == 1
    assert "already exists: refusing to overwrite a pseudonymisation key" in again.output
    assert "Traceback" not in again.output and target.read_text(encoding="ascii") == text


def test_the_default_key_file_is_found_by_every_command(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`labis key create` without PATH writes the default key file, which `labis load` then
    finds with no variable set (the README's loading example in a fresh clone)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("LABIS_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("LABIS_PSEUDONYM_KEY_FILE", raising=False)
    default = tmp_path / "config" / "labis" / "pseudonym.key"
    assert default_key_path() == default and find_key(Settings()) is None
    made = CliRunner().invoke(app, ["key", "create"])
    assert made.exit_code == 0, made.output
    assert str(default) in made.output and "nothing to set" in made.output
    found = find_key(Settings())
    assert found is not None and found.path == default and "default key file" in found.origin
    database = fresh_database("key")
    env = {
        "LABIS_DATA_DIR": str(data_dir),  # this process holds the session's directory: load in it
        "LABIS_DATABASE": database,
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
        "COLUMNS": "200",
    }
    loaded = CliRunner().invoke(app, ["load", "spolis", str(SAMPLES / "spolis_2024.csv")], env=env)
    assert loaded.exit_code == 0, loaded.output
    assert f"{SPOLIS_ROWS} read, {SPOLIS_ROWS} accepted" in loaded.output
    engine = make_engine("embedded", data_dir, database)
    try:
        [rec] = store.latest(engine)
        assert rec["key_id"] == found.key_id
    finally:
        engine.execute(f"DROP DATABASE IF EXISTS `{database}`")


def test_the_settings_name_the_key_in_one_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LABIS_PSEUDONYM_KEY, else LABIS_PSEUDONYM_KEY_FILE, else the default key file; a key that
    is named but unusable is an error naming where it came from, never silently no key."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    default = default_key_path()
    default.parent.mkdir(parents=True)
    default.write_text("d" * 32 + "\n")
    named = tmp_path / "named.key"
    named.write_text("n" * 32 + "\r\n")
    assert find_key(Settings(pseudonym_key="t" * 20, pseudonym_key_file=named)).key == b"t" * 20  # type: ignore[union-attr]
    from_file = find_key(Settings(pseudonym_key=None, pseudonym_key_file=named))
    assert from_file is not None and from_file.key == b"n" * 32
    assert from_file.origin == f"LABIS_PSEUDONYM_KEY_FILE={named}"
    assert find_key(Settings(pseudonym_key=None, pseudonym_key_file=None)).key == b"d" * 32  # type: ignore[union-attr]
    with pytest.raises(UserError, match=r"cannot read the pseudonymisation key file .*missing\.key"):
        find_key(Settings(pseudonym_key=None, pseudonym_key_file=tmp_path / "missing.key"))
    named.write_text("short\n")
    with pytest.raises(UserError, match=r"from LABIS_PSEUDONYM_KEY_FILE=.* is shorter than 16 bytes"):
        find_key(Settings(pseudonym_key=None, pseudonym_key_file=named))
    monkeypatch.setenv("LABIS_PSEUDONYM_KEY_FILE", "")  # empty: unset, as before
    assert Settings().pseudonym_key_file is None


# --- a load handed to the running server ------------------------------------------------------


def test_a_handed_off_load_uses_the_servers_key_and_says_which_process_lacks_one(tmp_path: Path) -> None:
    """The server has no key: the command says so (pid, start, how to fix) and sends nothing. A
    default key file made for the server's user is found at its next load, no restart. A command
    with another key is refused; one without a key, or with the same key, loads."""
    data = tmp_path / "data"
    server_config = tmp_path / "server-config"
    common = {
        "LABIS_DATA_DIR": str(data),
        "LABIS_MODEL_DIR": str(ROOT / "model"),
        "LABIS_LOADERS_DIR": str(ROOT / "loaders"),
    }
    server_env = _clean_env(**common, XDG_CONFIG_HOME=str(server_config))
    client_key = tmp_path / "client" / "pseudonym.key"
    client_env = _clean_env(
        **common, XDG_CONFIG_HOME=str(tmp_path / "client-config"), LABIS_PSEUDONYM_KEY_FILE=str(client_key)
    )
    assert _labis("key", "create", env=client_env).returncode == 0  # writes LABIS_PSEUDONYM_KEY_FILE
    assert _mode(client_key) == 0o600
    assert _labis("apply", env=server_env).returncode == 0
    server, base = start_server(server_env, ready="/health")
    try:
        started = json.loads((data / "serve.json").read_text())["started"]
        sample = str(SAMPLES / "spolis_2024.csv")

        refused = _labis("load", "spolis", sample, env=client_env)
        said = refused.stdout + refused.stderr
        assert refused.returncode == 1, said
        assert (
            f"the running server (pid {server.pid}, started {started}) has no pseudonymisation key: "
            f"restart it with LABIS_PSEUDONYM_KEY_FILE={client_key} or create one with `labis key create`"
        ) in said
        assert "Traceback" not in said and _payments(base) == 0

        # A key in the server user's default place: found at the next load, without a restart.
        assert _labis("key", "create", env=server_env).returncode == 0
        server_key = (server_config / "labis" / "pseudonym.key").read_text().strip().encode()
        other = _labis("load", "spolis", sample, env=client_env)
        said = other.stdout + other.stderr
        assert other.returncode == 1, said
        client_id = key_id(client_key.read_text().strip().encode())
        assert (
            f"pseudonymises with another key (fingerprint {key_id(server_key)}) than this command's "
            f"(fingerprint {client_id}, from LABIS_PSEUDONYM_KEY_FILE={client_key}): nothing was sent"
        ) in said
        assert _payments(base) == 0

        # The same refusal from the server itself, if a file is sent with another fingerprint.
        token = (data / "admin.token").read_text().strip()
        request = urllib.request.Request(
            f"{base}/admin/load/spolis?file_name=spolis_2024.csv&key_id={client_id}",
            data=Path(sample).read_bytes(),
            headers={"Authorization": f"Bearer {token}"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=60)
        assert info.value.code == 409 and json.load(info.value)["error"] == "pseudonym_key"
        assert _payments(base) == 0

        # Without a key of its own the command hands the load over; the server's key is used.
        keyless = _clean_env(**common, XDG_CONFIG_HOME=str(tmp_path / "nowhere"))
        loaded = _labis("load", "spolis", sample, env=keyless)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert f"{SPOLIS_ROWS} read, {SPOLIS_ROWS} accepted" in loaded.stdout
        assert _payments(base) == SPOLIS_ROWS
        # The same key, from another source (the text in a variable): accepted.
        same = _clean_env(**common, LABIS_PSEUDONYM_KEY=server_key.decode())
        loaded = _labis("load", "vdeavk", str(SAMPLES / "vdeavk_2024.csv"), env=same)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    except BaseException:
        server.send_signal(signal.SIGINT)
        print(server.communicate(timeout=60)[0])  # the server's log, shown with the failure
        raise
    server.send_signal(signal.SIGINT)
    output = server.communicate(timeout=60)[0]
    assert "pseudonymisation key: none" in output  # what the server said at its start
    # What the server stored (read in a process of its own: this one holds another directory).
    keys = _query(data, "SELECT DISTINCT key_id FROM labis.loads WHERE status = 'ok'")
    assert keys == [{"key_id": key_id(server_key)}]
    first = Path(sample).read_text(encoding="utf-8").splitlines()[1].split(";")
    code, household = first[5], first[6]
    persons = _query(data, "SELECT pseudonym FROM labis.persons")
    households = _query(data, "SELECT pseudonym FROM labis.identifiers_household")
    assert {"pseudonym": pseudonym_hex(code, server_key)} in persons
    assert {"pseudonym": pseudonym_hex(household, server_key, "household")} in households


def _query(data: Path, sql: str) -> list[dict[str, object]]:
    script = (
        "import json, sys\n"
        "from labis_olap.engine.embedded import EmbeddedEngine\n"
        "e = EmbeddedEngine(sys.argv[1], database='labis')\n"
        "print(json.dumps(e.query(sys.argv[2]).to_pylist()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data), sql],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def _payments(base: str) -> int:
    url = f"{base}/cube/social_assistance/aggregate?aggregates=payments"
    with urllib.request.urlopen(urllib.request.Request(url, headers=AS_ANALYST), timeout=60) as r:
        return int(json.load(r)["summary"]["payments"] or 0)
