"""The README is tested: its shell blocks run in order, in a fresh folder, as a new user would run
them — quick start, queries, the REST API, the Cubes import, loading data — so that the README
cannot drift from the code again.

How the README marks its blocks (README authors, read this):

* Only ```` ```sh ```` blocks run, every command in order; other blocks (YAML, the layout) are shown.
* `<!-- readme-test: skip: why -->` on the line before a block skips it (a database the reader has
  and the test has not).
* `labis serve` — typed in its own terminal as the quick start says, or with `&` — starts the
  server in the background; the walk-through goes on once `/health` answers, and every server is
  stopped with SIGINT (Ctrl-C) at the end. The ports of the README (8000, the default, and any
  `--port N`) are replaced by free ones, in the URLs too.
* A comment line `# → text` under a command says what its output shows: the output must contain
  the text, `…` standing for anything.
* Every command must succeed, and every `curl` must answer 2xx (the test adds `--fail-with-body`).

What the test does not run, and why:

* `pip install …`: replaced by the environment the tests run in (the package is installed, and
  the copy's own code is imported, by PYTHONPATH); checked to install this package or its
  `test` extra.
* The quick start's second command (install and run the test suite) would run this test again:
  it is checked instead to be the command `.ci/run` runs (which adds only quiet output, no
  cache folder and the slow lane), and the quick start to be exactly two commands.

The fresh folder is a copy of the files git tracks (`git ls-files`, as a clone would have them,
with their uncommitted changes), made a git repository of its own so that the test can check that
the walk-through leaves `git status` clean: everything the README writes is under ignored
folders. HOME (where `labis key create` writes the key) and every `LABIS_*` setting are the
walk-through's own. Slow (about a minute: two million demo facts, two servers): the slow lane.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DEFAULT_PORT = 8000
STEP_TIMEOUT = 600
MARK = re.compile(r"<!--\s*readme-test:\s*(\w+)[^>]*-->")
PYTEST_EXTRAS = {"-q": 0, "-p": 1, "-m": 1}
"""Options `.ci/run` may add to the README's `python -m pytest` (and how many values each takes):
quiet output, `-p no:cacheprovider`, `-m "slow or not slow"`."""

@dataclass
class Command:
    text: str
    line: int
    expect: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    heading: str
    commands: list[Command]
    skip: bool


def blocks(text: str) -> list[Block]:
    """The README's ```sh blocks in order: commands (backslash continuations joined, comment lines
    dropped but for `# →` expectations), the heading they are under, whether marked to skip."""
    out: list[Block] = []
    lines = text.splitlines()
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if not line.startswith("```sh"):
            i += 1
            continue
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.search(before)
        if mark and mark.group(1) not in ("skip",):
            raise AssertionError(f"README.md:{i}: unknown readme-test mark {mark.group(1)!r}")
        start = i + 1
        i += 1
        commands: list[Command] = []
        pending = ""
        while not lines[i].startswith("```"):
            raw = lines[i].rstrip()
            stripped = raw.strip()
            if pending:
                pending += " " + stripped.removesuffix("\\").strip()
                if not stripped.endswith("\\"):
                    commands.append(Command(pending, i + 1))
                    pending = ""
            elif stripped.startswith("# →"):
                assert commands, f"README.md:{i + 1}: an expected output with no command above it"
                commands[-1].expect.append(stripped.removeprefix("# →").strip())
            elif stripped and not stripped.startswith("#"):
                if stripped.endswith("\\"):
                    pending = stripped.removesuffix("\\").strip()
                else:
                    commands.append(Command(stripped, i + 1))
            i += 1
        out.append(Block(start, heading, commands, bool(mark)))
        i += 1
    return out


def segments(command: str) -> list[str]:
    """A command line's `&&`-joined parts as written (quotes kept, so `"$A/…"` still expands), its
    trailing comment dropped: split outside quotes, as bash reads them."""
    parts, cur, quote, i = [], "", "", 0
    while i < len(command):
        ch = command[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (not cur or cur[-1].isspace()):
            break
        elif command.startswith("&&", i):
            parts.append(cur.strip())
            cur, i = "", i + 2
            continue
        cur += ch
        i += 1
    return [p for p in (*parts, cur.strip()) if p]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def matches(expected: str, output: str) -> bool:
    """`…` in the README's expected output stands for anything."""
    pattern = ".*?".join(re.escape(part.strip()) for part in expected.split("…"))
    return re.search(pattern, output, re.DOTALL) is not None


def is_install(tokens: list[str]) -> bool:
    return tokens[:3] == ["pip", "install", "-e"] and tokens[3:] in (["."], [".[test]"])


def is_test_suite(tokens: list[str]) -> bool:
    return tokens[:3] == ["python", "-m", "pytest"]


def ci_commands() -> list[list[str]]:
    """The commands .ci/run runs, as tokens (one per line; quiet flags left in)."""
    out = []
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                out.append(shlex.split(line, comments=True))
            except ValueError:
                continue
    return out


def without_extras(tokens: list[str], extras: dict[str, int]) -> list[str]:
    out: list[str] = []
    skip = 0
    for t in tokens:
        if skip:
            skip -= 1
        elif t in extras:
            skip = extras[t]
        else:
            out.append(t)
    return out


class Walk:
    """The walk-through's folder, environment, servers and ports (README port → free port)."""

    def __init__(self, folder: Path, home: Path) -> None:
        self.folder = folder
        self.ports: dict[int, int] = {DEFAULT_PORT: free_port()}
        self.servers: list[tuple[subprocess.Popen[bytes], Path]] = []
        self._shell: subprocess.Popen[str] | None = None
        self.steps = 0
        bin_dir = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABIS_")}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
            PATH=bin_dir + os.pathsep + env.get("PATH", ""),
            PYTHONPATH=str(folder),
            COLUMNS="160",
        )
        self.env = env

    def port(self, readme_port: int) -> int:
        if readme_port not in self.ports:
            self.ports[readme_port] = free_port()
        return self.ports[readme_port]

    def localise(self, command: str) -> str:
        """The README's ports replaced by this run's, in URLs and in `--port N`."""
        command = re.sub(r"--port (\d+)", lambda m: f"--port {self.port(int(m.group(1)))}", command)
        return re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{self.port(int(m.group(1)))}", command)

    def shell(self) -> subprocess.Popen[str]:
        """One bash for the whole walk-through, as the reader's terminal: variables the README
        sets (`A=…`) hold for the commands after them."""
        if self._shell is None:
            self._shell = subprocess.Popen(
                ["bash", "--norc", "--noprofile"],
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            assert self._shell.stdin is not None and self._shell.stdout is not None
            self._shell.stdin.write("set -o pipefail\n")
            self._lines: queue.Queue[str] = queue.Queue()
            out = self._shell.stdout
            threading.Thread(target=lambda: [self._lines.put(line) for line in out], daemon=True).start()
        return self._shell

    def run(self, command: str, where: str) -> str:
        """One command in the walk-through's bash; its output (stdout and stderr). Every `curl`
        fails on a non-2xx answer, with the body shown."""
        command = re.sub(r"(^|[;&|(]\s*|\$\()curl ", r"\1curl -sS --fail-with-body ", command)
        self.steps += 1
        done = f"__readme_step_{self.steps}_done__"
        shell = self.shell()
        assert shell.stdin is not None
        shell.stdin.write(f"{command}\n__readme_status=$?; echo; echo {done} $__readme_status\n")
        lines: list[str] = []
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{where}: `{command}` did not finish in {STEP_TIMEOUT} s") from None
            if line.startswith(done):
                status = int(line.split()[1])
                break
            lines.append(line)
        output = "".join(lines)
        assert status == 0, f"{where}: `{command}` failed (exit {status})\n{output[-4000:]}"
        return output

    def serve(self, command: str, where: str) -> None:
        """`labis serve …` in the background, on its free port; back once /health answers."""
        tokens = shlex.split(command)
        if "--port" not in tokens:
            command += f" --port {self.port(DEFAULT_PORT)}"
        port = int(shlex.split(command)[shlex.split(command).index("--port") + 1])
        with socket.socket() as s:
            taken = s.connect_ex(("127.0.0.1", port)) == 0
        assert not taken, f"{where}: `{command}`: a server already answers on the README's port"
        log = self.folder / "var" / f"readme-serve-{port}.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", f"exec env {command}"],  # env: the README may set variables first
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.servers.append((proc, log))
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"{where}: `{command}` exited {proc.returncode}\n{log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{where}: `{command}` did not answer\n{log.read_text()}"
            time.sleep(0.2)

    def stop(self) -> None:
        """Ctrl-C, as the README says; a server that does not stop is killed (and fails the test)."""
        if self._shell is not None:
            assert self._shell.stdin is not None
            self._shell.stdin.close()
            self._shell.wait(30)
        stuck = []
        for proc, _ in self.servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, log in self.servers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                stuck.append(log.read_text()[-2000:])
        assert not stuck, f"a server did not stop on Ctrl-C: {stuck}"


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    """A fresh folder with the repository's tracked files, a git repository of its own."""
    folder = tmp_path / "labis-olap"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if not source.is_file() or source.is_symlink():
            continue  # deleted but not yet committed; links (the ignored tests/.node) stay out
        target = folder / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode & 0o777)
    git = ["git", "-c", "user.name=readme", "-c", "user.email=readme@test", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "-A"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=folder, check=True)
    home = tmp_path / "home"
    home.mkdir()
    w = Walk(folder, home)
    try:
        yield w
    finally:
        w.stop()


def test_the_quick_start_is_two_commands_and_its_second_is_what_ci_runs() -> None:
    """Install and run the main job; install and run the tests — and CI runs that same suite."""
    quick = next(b for b in blocks(README.read_text()) if b.heading == "Quick start")
    assert len(quick.commands) == 2, quick
    first, second = (segments(c.text) for c in quick.commands)
    want = [["pip", "install", "-e", "."], ["labis", "demo"], ["labis", "serve"]]
    assert [shlex.split(s) for s in first] == want, first
    install, suite = (shlex.split(s) for s in second)
    assert install == ["pip", "install", "-e", ".[test]"] and suite == ["python", "-m", "pytest"], second
    ci = ci_commands()
    assert any(without_extras(c, {"-q": 0}) == install for c in ci), "CI does not install the README's way"
    assert any(is_test_suite(c) and not without_extras(c[3:], PYTEST_EXTRAS) for c in ci), (
        "CI does not run the README's test command"
    )
    assert ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow or not slow"] in ci


@pytest.mark.slow
def test_the_readme_runs_as_written(walk: Walk) -> None:
    """Every ```sh block of the README, in order, in a fresh folder; the servers where it starts
    them; every expected output shown; nothing left behind that git would show."""
    found = blocks((walk.folder / "README.md").read_text())
    ran = {b.heading for b in found if not b.skip}
    assert {"Quick start", "REST API", "Loading data"} <= ran, ran
    curls = 0
    for block in found:
        if block.skip:
            continue
        for cmd in block.commands:
            where = f"README.md:{cmd.line} ({block.heading})"
            command = walk.localise(cmd.text)
            parts = segments(command)
            if any(is_test_suite(shlex.split(p)) for p in parts):
                continue  # the test suite itself: checked against .ci/run above
            todo = [p for p in parts if not is_install(shlex.split(p))]
            for p in parts:
                tokens = shlex.split(p)
                assert tokens[:2] != ["pip", "install"] or is_install(tokens), f"{where}: {p}"
            serve = [p for p in todo if re.search(r"(^|\s)labis serve\b", p)]
            assert len(serve) <= 1 and (not serve or todo[-1] == serve[0]), f"{where}: serve last"
            before = todo[:-1] if serve else todo
            if before == parts:
                output = walk.run(command, where)  # as written, pipes and all
            else:
                output = walk.run(" && ".join(before), where) if before else ""
            if serve:
                walk.serve(serve[0].removesuffix("&").strip(), where)
            elif command.rstrip().endswith("&"):
                raise AssertionError(f"{where}: only `labis serve` may run in the background")
            curls += command.count("curl ")
            for want in cmd.expect:
                shown = output[-3000:]
                assert matches(want, output), f"{where}: `{cmd.text}` did not show {want!r}:\n{shown}"
    assert curls >= 10, curls
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=walk.folder, capture_output=True, text=True, check=True
    ).stdout
    assert status == "", f"the walk-through left files git would show:\n{status}"


def test_the_runner_reads_marks_continuations_and_expected_output() -> None:
    """The walk-through's reading of a README: a skipped block, a continued command, an expected
    output with `…`, a comment and `&&` inside quotes (so that a broken runner cannot pass)."""
    text = "\n".join(
        [
            "# Title",
            "```sh",
            "A=http://127.0.0.1:8000/x",
            'curl "$A/y?a=1&&b" && labis serve   # a comment',
            "labis query cube \\",
            "      --limit 5",
            "      # a remark",
            "      # → 5 of … cells",
            "```",
            "<!-- readme-test: skip: needs a database -->",
            "```sh",
            "labis load vdi_db",
            "```",
            "```yaml",
            "not: run",
            "```",
        ]
    )
    first, second = blocks(text)
    assert not first.skip and second.skip and first.heading == "Title"
    assert [c.text for c in first.commands] == [
        "A=http://127.0.0.1:8000/x",
        'curl "$A/y?a=1&&b" && labis serve   # a comment',
        "labis query cube --limit 5",
    ]
    assert first.commands[2].expect == ["5 of … cells"]
    assert segments(first.commands[1].text) == ['curl "$A/y?a=1&&b"', "labis serve"]
    assert matches("5 of … cells", "shown: 5 of 9 cells from facts")
    assert not matches("5 of … cells", "9 cells")
    assert without_extras(["-q", "-p", "no:cacheprovider", "-m", "slow or not slow"], PYTEST_EXTRAS) == []
    with pytest.raises(AssertionError, match="unknown readme-test mark"):
        blocks("<!-- readme-test: background -->\n```sh\nlabis serve\n```")
