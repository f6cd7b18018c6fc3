"""A real OIDC issuer for tests and benchmarks: oauth2-mock-server (npm) run by Node.js.

`.ci/run` installs it (`npm install --prefix tests/.node oauth2-mock-server@8.2.3`); where Node
or the package is missing, `missing()` says why (the tests skip locally, fail in CI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / ".node" / "node_modules" / "oauth2-mock-server" / "dist" / "index.mjs"
SCRIPT = HERE / "oauth2_issuer.mjs"
AUDIENCE = "labis-olap"
VERSION = "oauth2-mock-server@8.2.3"


def missing() -> str | None:
    """Why the issuer cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm)"
    if not PACKAGE.exists():
        return f"oauth2-mock-server is not installed: npm install --prefix {HERE / '.node'} {VERSION}"
    return None


class MockIssuer:
    """The issuer process: its URL, tokens from its /token endpoint, key rotation."""

    def __init__(self, alg: str = "RS256") -> None:
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), str(PACKAGE), alg],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        first = self._line(timeout=30)
        self.url: str = first["issuer"]
        self.kid: str = first["kid"]
        self.wait_for_jwks()

    def _line(self, timeout: float = 10) -> dict[str, Any]:
        assert self.process.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            self.stop()
            raise RuntimeError("the mock issuer did not answer")
        answer: dict[str, Any] = json.loads(box[0])
        return answer

    def _command(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        with self._lock:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            return self._line()

    def wait_for_jwks(self, tries: int = 100) -> None:
        import time

        for _ in range(tries):
            try:
                with urllib.request.urlopen(f"{self.url}/jwks", timeout=2) as r:
                    if json.load(r)["keys"]:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the mock issuer's JWKS does not answer")

    def token(self, audience: str | None = AUDIENCE, scope: str | None = None, **claims: Any) -> str:
        """An access token from /token (client_credentials), signed by the issuer; `claims` are
        set in its payload (None removes one)."""
        form = {"grant_type": "client_credentials"}
        if audience is not None:
            form["aud"] = audience
        if scope is not None:
            form["scope"] = scope
        if claims:
            form["claims"] = json.dumps(claims)
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(f"{self.url}/token", data=data, timeout=10) as r:
            token: str = json.load(r)["access_token"]
        return token

    def rotate(self) -> str:
        """A new signing key (published beside the old one); the next token uses it."""
        kid: str = self._command("rotate")["kid"]
        return kid

    def sign_in_as(self, access: dict[str, Any], id_claims: dict[str, Any] | None = None) -> None:
        """Who the issuer's /authorize signs in from now on: claims of the access token and of
        the id token the code is exchanged for (the access token's `aud` included)."""
        answer = self._command("user " + json.dumps({"access": access, "id": id_claims or {}}))
        assert answer == {"ok": True}, answer

    def exchanges(self) -> tuple[int, dict[str, Any]]:
        """Authorization codes exchanged at /token so far, and the last exchange: its
        `access_token`, `basic` credentials (`user:password` or None) and `form` field names."""
        answer = self._command("exchanges")
        return int(answer["exchanges"]), dict(answer["last"])

    def jwks_requests(self) -> int:
        n: int = self._command("jwks")["jwks_requests"]
        return n

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
