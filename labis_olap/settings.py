"""One settings class for the whole server (environment variables prefixed LABIS_).

Read when needed (a command, a load, the server's start), never when a module is imported, so
that a variable set before the call is the one used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABIS_")

    model_dir: Path = Path("model")
    data_dir: Path = Path("var/labis")
    database: str = Field(default="labis", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    clickhouse_url: str | None = None
    """A ClickHouse server (http://user:pass@host:8123); unset means embedded chDB in data_dir."""
    loaders_dir: Path = Path("loaders")
    """Loader specs (`labis load SOURCE` finds the spec whose `source:` is SOURCE here)."""
    cache_dir: Path | None = None
    """Where validated models are cached (labis_olap/model/cache.py); unset:
    `$XDG_CACHE_HOME/labis-olap`, else `~/.cache/labis-olap`."""

    # --- loads (`labis load`) ------------------------------------------------------------------
    load_chunk_rows: int = Field(default=2_000_000, ge=1)
    """Source rows per published chunk (one deduplicated block per year each). Every rollup's view
    aggregates each block on its own, so larger blocks cost less: publishing 10M rows took 6.3-8.0 s
    in chunks of 2M against 8.4-10.4 s in chunks of 1M, with no higher peak memory."""
    pseudonym_key: SecretStr | None = None
    """The pseudonymisation key as text. Prefer a key file: a variable shows in the process's
    environment to its owner and is easily logged."""
    pseudonym_key_file: Path | None = None
    """A file holding the key (`labis key create` makes one). Unset, and no LABIS_PSEUDONYM_KEY:
    the default key file `$XDG_CONFIG_HOME/labis/pseudonym.key` (`~/.config/labis/…`) if it
    exists. `labis load`, `labis serve` and a load handed to the server all look here, in this
    order (labis_olap/privacy.py: `find_key`)."""
    load_trace: bool = False
    """Phase markers of a load on stderr (`<monotonic time> <event>`), for the fault tests; any
    non-empty value turns them on. They never carry data."""

    # --- the REST API (`labis serve`) ---------------------------------------------------------
    max_pagesize: int = Field(default=10_000, ge=1, le=1_000_000)
    """The most cells, facts or members one response carries (Slicer's json_record_limit)."""
    query_timeout: float = Field(default=30.0, gt=0, le=3600)
    """Seconds an aggregate, facts or members query may run (ClickHouse max_execution_time)
    before it is stopped and answered with a 400 `query_timeout`."""
    query_max_memory: int | None = Field(default=128 * 2**20, ge=2**20)
    """Bytes one engine query (aggregate, facts, members) may hold (ClickHouse max_memory_usage);
    past it a 400 `query_too_large`, not a server out of memory. With the cell bounds below it
    keeps one request under 256 MB of server memory. Unset (None): the engine's own limit."""
    # --- limits per request (docs/security.md, "Limits") --------------------------------------
    max_body_bytes: int = Field(default=256 * 2**10, ge=1024)
    """Bytes of a request body, counted as it arrives (before parsing); past it a 413."""
    max_url_bytes: int = Field(default=64 * 2**10, ge=1024)
    """Bytes of a request's path and query string; past it a 414 (uvicorn's parser itself refuses
    a request line of 80 KiB with a plain 400, so a higher value only matters behind another
    server)."""
    max_header_bytes: int = Field(default=32 * 2**10, ge=1024)
    """Bytes of all request headers together; past them a 431."""
    max_report_queries: int = Field(default=50, ge=1)
    """Queries one /report may hold."""
    max_report_cells: int = Field(default=50_000, ge=1)
    """Cells, subtotal rows, facts and members all the answers of one /report may carry together,
    counted as each query answers; past it the report stops with a 400 `limit_exceeded`."""
    max_cuts: int = Field(default=64, ge=1)
    """Cuts one query may have after repeats are dropped (a report's cell included; the split's
    cuts are counted apart)."""
    max_set_members: int = Field(default=256, ge=1)
    """Paths one set cut (`dim:a;b;c`) may list."""
    max_drilldowns: int = Field(default=16, ge=1)
    """Drilldowns one aggregate may have."""
    max_list_parts: int = Field(default=64, ge=1)
    """Parts of `aggregates`, `order` and `fields`, each."""
    rate_limit: float = Field(default=20.0, ge=0)
    """Requests per second per principal (subject and roles), as a token bucket; past it a 429
    with Retry-After. 0 = no rate limit."""
    rate_burst: int = Field(default=60, ge=1)
    """Requests a principal may send at once before the rate applies (the bucket's size)."""

    cache_bytes: int = Field(default=64 * 2**20, ge=0)
    """Budget of the aggregate result cache (least recently used entries go first); 0 = off."""
    threads: int = Field(default=8, ge=1, le=256)
    """Worker threads of the server: each holds one engine connection (chDB: one per thread)."""
    timezone: str = "Europe/Riga"
    first_weekday: int = Field(default=0, ge=0, le=6)
    """0 = Monday (as Cubes counts)."""
    fact_key_secret: SecretStr | None = None
    """Key of the keyed hash that makes `__fact_key__` row ids. Unset: a random key per process,
    so ids stay stable while the server runs but change on restart."""
    audit: bool = True
    """Record every request of the server in the audit log (JSON lines; `labis audit` reads it)."""
    audit_file: Path | None = None
    """The audit log (default: `audit.jsonl` in the data directory)."""
    audit_max_bytes: int = Field(default=50 * 2**20, ge=2**16)
    """Size at which the audit log is rotated."""
    audit_backups: int = Field(default=10, ge=1, le=1000)
    """Rotated audit files kept (`audit.jsonl.1` … `.N`)."""

    metrics: bool = True
    """Serve /metrics (Prometheus text: requests by route template and status, latencies, engine
    time, cache, loads) and count every request for it (a few µs). Expose it to the monitoring
    network only (deploy/proxy/Caddyfile does not forward it)."""
    log_json: bool = False
    """Log as JSON lines (one object per record: time, level, logger, message; an access line's
    path without its query string) instead of text, for a log collector."""
    cluster: str | None = None
    """The ClickHouse cluster (its name in the servers' `remote_servers`) the tables live on:
    `labis apply` creates them ON CLUSTER (Replicated, Distributed over the shards), loads
    insert through the Distributed facts. Needs LABIS_CLICKHOUSE_URL. Unset: one node."""
    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes of `labis serve` (with LABIS_CLICKHOUSE_URL only: an embedded data
    directory is one process's)."""

    @property
    def audit_path(self) -> Path:
        return self.audit_file or self.data_dir / "audit.jsonl"

    # --- authentication (docs/security.md) -------------------------------------------------
    # No issuer and no API keys file: open demo mode, every request is the anonymous public role.
    issuer: str | None = None
    """The OIDC issuer whose access tokens are accepted (exactly the tokens' `iss`), e.g.
    https://keycloak.example.lv/realms/labis. Its keys are found through its
    /.well-known/openid-configuration unless `jwks_url` is set."""
    audience: str | None = None
    """The `aud` a token must carry (this server's client id or API identifier); required with
    an issuer, so that a token the issuer made for another application is refused."""
    jwks_url: str | None = None
    """The issuer's JSON Web Key Set, when it is not (or should not be) discovered."""
    jwt_algorithms: Annotated[list[str], NoDecode] = ["RS256", "ES256"]
    """Signature algorithms accepted (comma-separated): public-key ones only (RS*, PS*, ES*)."""
    jwt_leeway: int = Field(default=30, ge=0, le=300)
    """Seconds of clock difference allowed on `exp`, `nbf` and `iat`."""
    roles_claim: str = "roles"
    """The claim holding the roles: a list or a space-separated string; a dotted path reaches
    into objects (Keycloak: `realm_access.roles`; `scope` takes the token's scopes)."""
    principal_claims: Annotated[list[str], NoDecode] = ["institution", "municipality"]
    """Token claims copied into the principal for row-level filters to bind to (comma-separated)."""
    api_keys_file: Path | None = None
    """Hashes of the API keys (`labis keys`); unset: `api-keys.json` in data_dir. Its existence
    turns authentication on."""
    cors_origins: Annotated[list[str], NoDecode] = []
    """Web origins whose pages may call the API from a browser (CORS, as Cubes'
    `allow_cors_origin`; e.g. CubesViewer served from its own host), comma-separated:
    `https://viewer.example.lv,http://localhost:8000`, or `*` for any. Empty (the default): no
    CORS at all. Credentials (cookies) are never allowed across origins; tokens and API keys
    travel in the `Authorization` and `X-API-Key` headers, which preflights allow."""

    # --- browser sign-in (docs/security.md, "Browser sign-in"): on whenever an issuer is set ---
    client_id: str | None = None
    """The client the pages sign in as at the issuer (authorization code + PKCE); unset: the
    audience (a client whose access tokens carry its own id as `aud`)."""
    client_secret: SecretStr | None = None
    """For a confidential client: sent to the token endpoint as HTTP Basic. PKCE is used either way."""
    scopes: str = "openid profile"
    """Scopes asked for at sign-in, space-separated (`openid` makes the issuer send an id token,
    whose nonce is checked and whose `name` the pages show)."""
    public_url: str | None = None
    """This server's address as browsers reach it (https://olap.example.lv, a path prefix
    allowed), for the redirect URI `<public_url>/auth/callback`; unset: the scheme and Host of
    the request (set it behind a proxy that changes them)."""
    session_max_seconds: int = Field(default=8 * 3600, ge=60, le=30 * 86400)
    """The longest a browser session lasts; it also ends when its access token does."""

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """LABIS_CACHE_DIR= (empty) is the default folder, as it always was."""
        return None if value == "" else value

    @field_validator("load_trace", mode="before")
    @classmethod
    def _any_text_is_on(cls, value: Any) -> Any:
        """A switch, as `if os.environ.get(...)` read it: any non-empty text is on."""
        return bool(value) if isinstance(value, str) else value

    @field_validator("jwt_algorithms", "principal_claims", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """LABIS_JWT_ALGORITHMS=RS256,ES256: a list from the environment's one string."""
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _public_key_algorithms(cls, value: list[str]) -> list[str]:
        """Never `none`, never HS*: an HMAC 'verified' with a public key is forgeable by anyone."""
        bad = [a for a in value if a not in PUBLIC_KEY_ALGORITHMS]
        if bad or not value:
            raise ValueError(f"not accepted: {bad or 'none'}; choose from {', '.join(PUBLIC_KEY_ALGORITHMS)}")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        """Origins as browsers send them (`scheme://host[:port]`, no path): a trailing '/' is
        dropped; anything else with a path would never match, so it is refused."""
        out = []
        for origin in (v.rstrip("/") for v in value):
            if origin != "*" and not re.fullmatch(r"https?://[^/\s,]+", origin):
                raise ValueError(f"not an origin: {origin!r}; write scheme://host[:port] or *")
            out.append(origin)
        if "*" in out and len(out) > 1:
            raise ValueError("'*' allows every origin: give it alone")
        return out

    @field_validator(
        "issuer",
        "audience",
        "jwks_url",
        "client_id",
        "client_secret",
        "public_url",
        "pseudonym_key",
        "pseudonym_key_file",
        "cluster",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        """An http(s) address with no query or fragment; kept without a trailing slash."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("an http(s) address such as https://olap.example.lv, with no query or fragment")
        return value.rstrip("/")

    def keys_path(self) -> Path:
        """Where the API keys' hashes are kept."""
        return self.api_keys_file if self.api_keys_file is not None else self.data_dir / "api-keys.json"


PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
