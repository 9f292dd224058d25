"""Settings read from the environment: each declared once, with its variable, default and text.

The configuration reference (docs/reference/configuration.md) is generated from these declarations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from conveyor.answers import AnswerLimits
from conveyor.rates import Rate, parse_rate
from conveyor.setting import (
    choice,
    declared,
    duration_or_off,
    flag,
    hosts,
    integer,
    names,
    number,
    origins,
    path,
    positive_duration,
    setting,
    text,
    upper,
    whole_or_none,
)

SECRET_KEY_VARIABLE = "CONVEYOR_SECRET_KEY"  # noqa: S105 - a variable name, not a secret
SECRET_VARIABLE_PREFIX = "CONVEYOR_SECRET_"  # noqa: S105 - a name prefix
DEFAULT_URL = "http://127.0.0.1:8080"

_DATABASE = "Database"
_WORKER = "Workers"
_API = "HTTP API"
_EDGE = "HTTP edge"
_EMAIL = "Email"
_SMS = "SMS"
_STEPS = "Steps and nodes"
_RETENTION = "Retention"
_LOGGING = "Logging"
_SECRETS = "Secrets"
_ACCESS = "Access: keys, single sign-on, quotas"
_CLIENT = "Client and CLI"


def env_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The secrets given as CONVEYOR_SECRET_<NAME> variables, by NAME (the key itself is none of them)."""
    return {
        name[len(SECRET_VARIABLE_PREFIX) :]: value
        for name, value in env.items()
        if name.startswith(SECRET_VARIABLE_PREFIX) and name != SECRET_KEY_VARIABLE and value
    }


def _rate(raw: str) -> Rate:
    """`N` sends a second in all, or `N/domain` a second per recipient domain."""
    try:
        return parse_rate(raw)
    except ValueError:
        raise ValueError("must be 'N' or 'N/domain' sends a second, above 0") from None


def _home() -> Path:
    return Path.home() / ".local" / "share" / "conveyor"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about a conveyor process."""

    database_url: str | None = setting(
        "DATABASE_URL",
        None,
        text,
        _DATABASE,
        "The PostgreSQL server to use, as a `postgresql://` URL. Unset: an embedded server under CONVEYOR_HOME.",
        secret=True,
    )
    home: Path = setting(
        "CONVEYOR_HOME",
        _home,
        path,
        _DATABASE,
        "Where the embedded PostgreSQL keeps its data (`pgdata/`) and its log (`postgres.log`).",
        shown="~/.local/share/conveyor",
    )
    db_pool_size: int = setting("CONVEYOR_DB_POOL_SIZE", 20, integer, _DATABASE, "Connections each process pools.")
    migrate_on_start: bool = setting(
        "CONVEYOR_MIGRATE_ON_START",
        True,
        flag,
        _DATABASE,
        "Whether serve, web, worker and demo apply the migrations the database lacks at start (else they refuse).",
    )
    poll_interval_seconds: float = setting(
        "CONVEYOR_POLL_INTERVAL",
        30.0,
        number,
        _WORKER,
        "Seconds between a worker's safety-net polls; NOTIFY and the nearest due time wake it sooner.",
    )
    batch_size: int = setting("CONVEYOR_BATCH_SIZE", 100, integer, _WORKER, "Executions claimed per statement.")
    inbox_batch_size: int = setting(
        "CONVEYOR_INBOX_BATCH_SIZE",
        1000,
        integer,
        _WORKER,
        "Inbox rows consumed (and due schedules fired) per transaction.",
    )
    concurrency: int = setting(
        "CONVEYOR_CONCURRENCY",
        20,
        integer,
        _WORKER,
        "Executions one worker runs at once; their steps are committed together, so a busy worker gains from more "
        "(the benchmarks use 200).",
    )
    action_threads: int = setting(
        "CONVEYOR_ACTION_THREADS", 8, integer, _WORKER, "Threads a worker runs blocking (synchronous) actions on."
    )
    action_modules: tuple[str, ...] = setting(
        "CONVEYOR_ACTIONS",
        (),
        names,
        _WORKER,
        "Modules of the team's own actions a worker imports, besides the `conveyor.actions` entry points.",
    )
    lease_seconds: float = setting(
        "CONVEYOR_LEASE_SECONDS",
        30.0,
        number,
        _WORKER,
        "Lease length in seconds: a dead worker's executions come back after it.",
    )
    shutdown_grace_seconds: float = setting(
        "CONVEYOR_SHUTDOWN_GRACE", 10.0, number, _WORKER, "Seconds in-flight steps get to finish on SIGTERM."
    )
    worker_port: int | None = setting(
        "CONVEYOR_WORKER_PORT",
        None,
        integer,
        _WORKER,
        "A port on which `conveyor worker` serves its own `/metrics` and `/health` (unset: none).",
    )
    worker_host: str = setting(
        "CONVEYOR_WORKER_HOST",
        "127.0.0.1",
        text,
        _WORKER,
        "The address CONVEYOR_WORKER_PORT listens on (`0.0.0.0` for a scraper on another machine).",
    )
    health_claim_lag: timedelta = setting(
        "CONVEYOR_HEALTH_CLAIM_LAG",
        timedelta(minutes=1),
        positive_duration,
        _WORKER,
        "`/health` says `degraded` when an execution has waited longer than this to be claimed.",
    )
    api_token: str | None = setting(
        "CONVEYOR_API_TOKEN",
        None,
        text,
        _API,
        "The bearer token every route but `/health*` and `/hooks/*` needs (`/metrics` too, unless it has its own); "
        "unset leaves the API open, so listen on loopback.",
        secret=True,
    )
    metrics_token: str | None = setting(
        "CONVEYOR_METRICS_TOKEN",
        None,
        text,
        _API,
        "The bearer token `/metrics` asks for; unset: the API token.",
        secret=True,
    )
    key_secret: str | None = setting(
        "CONVEYOR_KEY_SECRET",
        None,
        text,
        _ACCESS,
        "The HMAC key API keys are stored under: the same on every web process; without it keys can be neither "
        "made nor checked. Changing it invalidates every key.",
        secret=True,
    )
    jwt_issuer: str | None = setting(
        "CONVEYOR_JWT_ISSUER", None, text, _ACCESS, "Single sign-on: the issuer (`iss`) bearer JWTs must name."
    )
    jwt_audience: str | None = setting(
        "CONVEYOR_JWT_AUDIENCE", None, text, _ACCESS, "Single sign-on: the audience (`aud`) bearer JWTs must name."
    )
    jwt_jwks_url: str | None = setting(
        "CONVEYOR_JWT_JWKS_URL", None, text, _ACCESS, "Single sign-on: the JWKS URL of the issuer's signing keys."
    )
    jwt_key: str | None = setting(
        "CONVEYOR_JWT_KEY",
        None,
        text,
        _ACCESS,
        "Single sign-on: one static public key (PEM), instead of a JWKS URL.",
        secret=True,
    )
    jwt_algorithms: tuple[str, ...] = setting(
        "CONVEYOR_JWT_ALGORITHMS", ("RS256", "ES256"), names, _ACCESS, "The JWT signature algorithms accepted."
    )
    jwt_role_claim: str = setting(
        "CONVEYOR_JWT_ROLE_CLAIM", "conveyor_role", text, _ACCESS, "The claim a JWT's role is read from."
    )
    jwt_namespace_claim: str = setting(
        "CONVEYOR_JWT_NAMESPACE_CLAIM",
        "conveyor_namespace",
        text,
        _ACCESS,
        "The claim a JWT's namespace is read from.",
    )
    quota_starts_per_minute: int | None = setting(
        "CONVEYOR_QUOTA_STARTS_PER_MINUTE",
        None,
        whole_or_none,
        _ACCESS,
        "Executions the API starts per minute in each namespace; past it a start is refused with 429.",
    )
    quota_alive: int | None = setting(
        "CONVEYOR_QUOTA_ALIVE",
        None,
        whole_or_none,
        _ACCESS,
        "Executions not yet ended in each namespace; past it a start is refused with 429.",
    )
    max_body_bytes: int = setting(
        "CONVEYOR_MAX_BODY", 1024 * 1024, integer, _API, "The largest request body in bytes (`413` beyond)."
    )
    max_waits: int = setting(
        "CONVEYOR_MAX_WAITS",
        100,
        integer,
        _API,
        "Requests of this process waiting at once for an execution to end (a start's `wait`, a synchronous hook); "
        "past it a start is a `429` (nothing started) and a hook delivery is answered at once with `202`.",
    )
    allowed_hosts: frozenset[str] = setting(
        "CONVEYOR_ALLOWED_HOSTS",
        frozenset(),
        hosts,
        _EDGE,
        "`Host` names answered besides loopback and the address connected to (`name` at any port, or `name:port`): a "
        "proxy's public name.",
    )
    allowed_origins: frozenset[str] = setting(
        "CONVEYOR_ALLOWED_ORIGINS",
        frozenset(),
        origins,
        _EDGE,
        "Origins (`https://admin.example.com`) whose pages may change things besides this server's own.",
    )
    header_timeout_seconds: float = setting(
        "CONVEYOR_HEADER_TIMEOUT",
        10.0,
        number,
        _EDGE,
        "A connection must send a request's headers this soon after opening, or after its previous answer.",
    )
    max_connections: int = setting(
        "CONVEYOR_MAX_CONNECTIONS",
        1000,
        integer,
        _EDGE,
        "Open connections per API process; past it the oldest still sending headers gives way, else `503`.",
    )
    email_transport: Literal["log", "smtp"] = setting(
        "CONVEYOR_EMAIL_TRANSPORT",
        "log",
        choice("log", "smtp"),
        _EMAIL,
        "`log` writes emails to the log; `smtp` sends.",
    )
    email_from: str = setting("CONVEYOR_EMAIL_FROM", "conveyor@localhost", text, _EMAIL, "The sender of emails.")
    email_rate: Rate | None = setting(
        "CONVEYOR_EMAIL_RATE", None, _rate, _EMAIL, "At most this many emails a second: `N`, or `N/domain`."
    )
    smtp_host: str = setting("SMTP_HOST", "localhost", text, _EMAIL, "The SMTP server.")
    smtp_port: int = setting("SMTP_PORT", 25, integer, _EMAIL, "The SMTP server's port.")
    smtp_username: str | None = setting("SMTP_USERNAME", None, text, _EMAIL, "The SMTP login, if it asks for one.")
    smtp_password: str | None = setting(
        "SMTP_PASSWORD", None, text, _EMAIL, "The SMTP password, if it asks for one.", secret=True
    )
    smtp_starttls: bool = setting("SMTP_STARTTLS", False, flag, _EMAIL, "Whether to upgrade to TLS with STARTTLS.")
    sms_transport: Literal["log", "http"] = setting(
        "CONVEYOR_SMS_TRANSPORT",
        "log",
        choice("log", "http"),
        _SMS,
        "`log` writes messages to the log; `http` posts them to CONVEYOR_SMS_URL.",
    )
    sms_url: str | None = setting("CONVEYOR_SMS_URL", None, text, _SMS, "The provider's messages endpoint.")
    sms_from: str = setting("CONVEYOR_SMS_FROM", "conveyor", text, _SMS, "The sender of messages.")
    sms_username: str | None = setting(
        "CONVEYOR_SMS_USERNAME", None, text, _SMS, "The provider's basic-auth login (for Twilio: the account SID)."
    )
    sms_password: str | None = setting(
        "CONVEYOR_SMS_PASSWORD",
        None,
        text,
        _SMS,
        "The provider's basic-auth password (for Twilio: the auth token).",
        secret=True,
    )
    webhook_allow_hosts: frozenset[str] = setting(
        "CONVEYOR_WEBHOOK_ALLOW_HOSTS",
        frozenset(),
        hosts,
        _STEPS,
        "Hosts a webhook node or a poll trigger may call although they are loopback or private addresses.",
    )
    max_answer_bytes: int = setting(
        "CONVEYOR_MAX_ANSWER",
        AnswerLimits().max_bytes,
        integer,
        _STEPS,
        "The most bytes of an HTTP answer's body a worker reads.",
    )
    answer_read_seconds: float = setting(
        "CONVEYOR_ANSWER_SECONDS",
        AnswerLimits().read_seconds,
        number,
        _STEPS,
        "The longest an HTTP answer's body may take to arrive, once its headers have.",
    )
    max_result_bytes: int = setting(
        "CONVEYOR_MAX_RESULT",
        1024 * 1024,
        integer,
        _STEPS,
        "The largest step result stored (its input, output and error, as JSON).",
    )
    step_timeout: timedelta = setting(
        "CONVEYOR_STEP_TIMEOUT",
        timedelta(minutes=5),
        positive_duration,
        _STEPS,
        "A step's timeout when its node sets none: a step that hangs gives its slot back by then.",
    )
    max_step_timeout: timedelta = setting(
        "CONVEYOR_MAX_STEP_TIMEOUT",
        timedelta(minutes=15),
        positive_duration,
        _STEPS,
        "The longest any step runs, whatever its node's `timeout`.",
    )
    max_flow_depth: int = setting("CONVEYOR_MAX_FLOW_DEPTH", 10, integer, _STEPS, "How deep shared flows may nest.")
    max_steps: int = setting(
        "CONVEYOR_MAX_STEPS", 1000, integer, _STEPS, "Steps an execution may take, when its workflow sets no guard."
    )
    max_visits: int = setting(
        "CONVEYOR_MAX_VISITS",
        100,
        integer,
        _STEPS,
        "Visits an execution may make to one node, when its workflow sets none.",
    )
    execution_timeout: timedelta | None = setting(
        "CONVEYOR_EXECUTION_TIMEOUT",
        None,
        positive_duration,
        _STEPS,
        "A deadline from an execution's start, when its workflow sets none (unset: none).",
    )
    retention: timedelta | None = setting(
        "CONVEYOR_RETENTION",
        timedelta(days=30),
        duration_or_off,
        _RETENTION,
        "How long finished executions and their rows are kept (`7d`, `PT12H`); `0` or `off` keeps them for ever; a "
        "workflow's `retention` overrides it.",
    )
    retention_batch_size: int = setting(
        "CONVEYOR_RETENTION_BATCH_SIZE",
        1000,
        integer,
        _RETENTION,
        "Top-level executions (with their children) deleted per retention transaction.",
    )
    log_format: Literal["console", "json"] = setting(
        "LOG_FORMAT", "console", choice("console", "json"), _LOGGING, "`console` for people, `json` for collectors."
    )
    log_level: str = setting("LOG_LEVEL", "INFO", upper, _LOGGING, "The least level logged: DEBUG, INFO, WARNING.")
    secret_key: str | None = setting(
        SECRET_KEY_VARIABLE,
        None,
        text,
        _SECRETS,
        "The Fernet key that encrypts the `secrets` table (`PUT /secrets` is a `409` without it).",
        secret=True,
    )
    env_secrets: dict[str, str] = setting(
        "CONVEYOR_SECRET_<NAME>",
        dict[str, str],
        text,
        _SECRETS,
        "The secret `NAME`, as templates read it (`{{ secrets.NAME }}`); wins over the table.",
        secret=True,
        gather=env_secrets,
        shown="none",
    )
    api_url: str = setting(
        "CONVEYOR_URL",
        DEFAULT_URL,
        text,
        _CLIENT,
        "The API the CLI and `conveyor.Client` call by default (else `url` in the config file).",
    )
    api_key: str | None = setting(
        "CONVEYOR_API_KEY",
        None,
        text,
        _CLIENT,
        "The API key the CLI and `conveyor.Client` present (else CONVEYOR_API_TOKEN, else `key` in the config file).",
        secret=True,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every declared setting from the environment (or `env`)."""
        env = os.environ if env is None else env
        return cls(**{name: found.read(env, default) for name, found, default in declared(cls)})

    @property
    def single_sign_on(self) -> bool:
        """Whether bearer JWTs are taken: an issuer's keys (a JWKS URL or a static key) are configured."""
        return bool(self.jwt_jwks_url or self.jwt_key)

    def __post_init__(self) -> None:
        """Refuse edge bounds that would shut every client out, or never close a half-sent request; and single
        sign-on without the issuer and audience its tokens must name."""
        if self.single_sign_on and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError(
                "CONVEYOR_JWT_JWKS_URL or CONVEYOR_JWT_KEY needs CONVEYOR_JWT_ISSUER and CONVEYOR_JWT_AUDIENCE"
            )
        if self.max_connections < 1 or self.header_timeout_seconds <= 0 or self.max_waits < 0:
            raise ValueError(
                "CONVEYOR_MAX_CONNECTIONS must be at least 1, CONVEYOR_HEADER_TIMEOUT above 0 and "
                f"CONVEYOR_MAX_WAITS at least 0, not {self.max_connections}, {self.header_timeout_seconds} "
                f"and {self.max_waits}"
            )
        if self.sms_transport == "http" and not self.sms_url:
            raise ValueError("CONVEYOR_SMS_TRANSPORT=http needs CONVEYOR_SMS_URL, the provider's messages endpoint")

    @property
    def answers(self) -> AnswerLimits:
        """How much of an HTTP answer's body a worker reads, and for how long."""
        return AnswerLimits(max_bytes=self.max_answer_bytes, read_seconds=self.answer_read_seconds)

    def credentials(self) -> dict[str, str | None]:
        """The credentials the settings hold, by the name a redacted log shows."""
        return {
            found.variable: getattr(self, name)
            for name, found, _ in declared(type(self))
            if found.secret and found.gather is None and name not in ("database_url", "api_key", "jwt_key")
        }


def client_setting(name: str, env: Mapping[str, str] | None = None, *, defaulted: bool = True) -> str | None:
    """One of the settings a client reads (CONVEYOR_URL, CONVEYOR_API_KEY, …) without reading the others; None
    when unset and not `defaulted`."""
    for field_name, found, default in declared(Settings):
        if field_name == name:
            value = found.read(os.environ if env is None else env, default if defaulted else None)
            return None if value is None else str(value)
    raise KeyError(name)
