"""Settings read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from conveyor.answers import AnswerLimits
from conveyor.durations import parse_duration
from conveyor.rates import Rate, parse_rate


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _retention(raw: str | None) -> timedelta | None:
    if raw is None or not raw.strip():
        return DEFAULT_RETENTION
    if raw.strip().lower() in ("0", "off"):
        return None
    retention = parse_duration(raw)
    if retention <= timedelta(0):
        raise ValueError(f"CONVEYOR_RETENTION must be a positive duration, '0' or 'off', not {raw!r}")
    return retention


DEFAULT_RETENTION = timedelta(days=30)


def _positive_duration(name: str, default: timedelta) -> timedelta:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    duration = parse_duration(raw)
    if duration <= timedelta(0):
        raise ValueError(f"{name} must be a positive duration, not {raw!r}")
    return duration


def _hosts(raw: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


def _origins(raw: str) -> frozenset[str]:
    return frozenset(o.strip().lower().rstrip("/") for o in raw.split(",") if o.strip())


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about a conveyor process."""

    database_url: str | None = None
    home: Path = field(default_factory=lambda: Path.home() / ".local" / "share" / "conveyor")
    poll_interval_seconds: float = 30.0
    batch_size: int = 100
    inbox_batch_size: int = 1000
    concurrency: int = 20
    action_threads: int = 8
    # Modules of the team's own actions a worker imports (CONVEYOR_ACTIONS), besides the `conveyor.actions`
    # entry points of installed packages.
    action_modules: tuple[str, ...] = ()
    db_pool_size: int = 20
    lease_seconds: float = 30.0
    shutdown_grace_seconds: float = 10.0
    email_transport: Literal["log", "smtp"] = "log"
    email_from: str = "conveyor@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    webhook_allow_hosts: frozenset[str] = frozenset()
    sms_transport: Literal["log", "http"] = "log"
    sms_url: str | None = None
    sms_from: str = "conveyor"
    sms_username: str | None = None
    sms_password: str | None = field(default=None, repr=False)
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    # Bearer tokens: unset leaves the API (or /metrics) open. Never logged, never shown in a repr.
    api_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    # The HMAC key API keys are stored under (CONVEYOR_KEY_SECRET): the same on every web process; without it
    # keys can be neither made nor checked. Changing it invalidates every key.
    key_secret: str | None = field(default=None, repr=False)
    # Single sign-on: bearer JWTs of this issuer for this audience, verified with the keys of the JWKS URL or
    # with one static public key (PEM); the role and the namespace are read from these claims.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_key: str | None = field(default=None, repr=False)
    jwt_algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwt_role_claim: str = "conveyor_role"
    jwt_namespace_claim: str = "conveyor_namespace"
    # Each namespace's quotas (None: none): executions the API starts per minute, and executions not yet ended
    # (CONVEYOR_QUOTA_STARTS_PER_MINUTE, CONVEYOR_QUOTA_ALIVE); past one, a start is refused with 429.
    quota_starts_per_minute: int | None = None
    quota_alive: int | None = None
    max_body_bytes: int = 1024 * 1024
    # Host headers and origins answered besides this machine's loopback names and the address connected to.
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()
    # A connection must send a request's headers this soon after opening, or after its previous answer.
    header_timeout_seconds: float = 10.0
    max_connections: int = 1000
    max_waits: int = 100
    # CONVEYOR_SECRET_KEY encrypts the secrets table; CONVEYOR_SECRET_<NAME> are secrets by name.
    secret_key: str | None = field(default=None, repr=False)
    env_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    email_rate: Rate | None = None
    # How long finished executions and their rows are kept; None keeps them for ever (CONVEYOR_RETENTION=off).
    retention: timedelta | None = DEFAULT_RETENTION
    retention_batch_size: int = 1000
    # Whether serve, web, worker and demo apply the migrations the database lacks at start (else they refuse).
    migrate_on_start: bool = True
    # How much of an HTTP answer's body a worker reads (CONVEYOR_MAX_ANSWER), and how long for
    # (CONVEYOR_ANSWER_SECONDS).
    answers: AnswerLimits = field(default_factory=AnswerLimits)
    # The largest step result (its input, output and error, as JSON) stored: CONVEYOR_MAX_RESULT.
    max_result_bytes: int = 1024 * 1024
    # A step's timeout when its node sets none, and the most any node's may be (CONVEYOR_STEP_TIMEOUT and
    # CONVEYOR_MAX_STEP_TIMEOUT): a step that hangs gives its slot back by then.
    step_timeout: timedelta = timedelta(minutes=5)
    max_step_timeout: timedelta = timedelta(minutes=15)
    # How deep shared flows may nest: CONVEYOR_MAX_FLOW_DEPTH.
    max_flow_depth: int = 10
    # Guards of a workflow that sets none: steps an execution takes, visits to one node, a deadline from its start
    # (CONVEYOR_MAX_STEPS, CONVEYOR_MAX_VISITS, CONVEYOR_EXECUTION_TIMEOUT; unset: none).
    max_steps: int = 1000
    max_visits: int = 100
    execution_timeout: timedelta | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Read settings from DATABASE_URL, CONVEYOR_*, SMTP_* and LOG_* variables."""
        env = os.environ
        transport = env.get("CONVEYOR_EMAIL_TRANSPORT", "log")
        if transport not in ("log", "smtp"):
            raise ValueError(f"CONVEYOR_EMAIL_TRANSPORT must be 'log' or 'smtp', not {transport!r}")
        sms = env.get("CONVEYOR_SMS_TRANSPORT", "log")
        if sms not in ("log", "http"):
            raise ValueError(f"CONVEYOR_SMS_TRANSPORT must be 'log' or 'http', not {sms!r}")
        if sms == "http" and not env.get("CONVEYOR_SMS_URL"):
            raise ValueError("CONVEYOR_SMS_TRANSPORT=http needs CONVEYOR_SMS_URL, the provider's messages endpoint")
        log_format = env.get("LOG_FORMAT", "console")
        if log_format not in ("console", "json"):
            raise ValueError(f"LOG_FORMAT must be 'console' or 'json', not {log_format!r}")
        home = env.get("CONVEYOR_HOME")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=Path(home) if home else Path.home() / ".local" / "share" / "conveyor",
            poll_interval_seconds=_float("CONVEYOR_POLL_INTERVAL", 30.0),
            batch_size=_int("CONVEYOR_BATCH_SIZE", 100),
            inbox_batch_size=_int("CONVEYOR_INBOX_BATCH_SIZE", 1000),
            concurrency=_int("CONVEYOR_CONCURRENCY", 20),
            action_threads=_int("CONVEYOR_ACTION_THREADS", 8),
            action_modules=tuple(m.strip() for m in env.get("CONVEYOR_ACTIONS", "").split(",") if m.strip()),
            db_pool_size=_int("CONVEYOR_DB_POOL_SIZE", 20),
            lease_seconds=_float("CONVEYOR_LEASE_SECONDS", 30.0),
            shutdown_grace_seconds=_float("CONVEYOR_SHUTDOWN_GRACE", 10.0),
            email_transport="smtp" if transport == "smtp" else "log",
            email_from=env.get("CONVEYOR_EMAIL_FROM", "conveyor@localhost"),
            smtp_host=env.get("SMTP_HOST", "localhost"),
            smtp_port=_int("SMTP_PORT", 25),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=env.get("SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            webhook_allow_hosts=_hosts(env.get("CONVEYOR_WEBHOOK_ALLOW_HOSTS", "")),
            sms_transport="http" if sms == "http" else "log",
            sms_url=env.get("CONVEYOR_SMS_URL") or None,
            sms_from=env.get("CONVEYOR_SMS_FROM", "conveyor"),
            sms_username=env.get("CONVEYOR_SMS_USERNAME") or None,
            sms_password=env.get("CONVEYOR_SMS_PASSWORD") or None,
            log_format="json" if log_format == "json" else "console",
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            api_token=env.get("CONVEYOR_API_TOKEN") or None,
            metrics_token=env.get("CONVEYOR_METRICS_TOKEN") or None,
            key_secret=env.get("CONVEYOR_KEY_SECRET") or None,
            jwt_issuer=env.get("CONVEYOR_JWT_ISSUER") or None,
            jwt_audience=env.get("CONVEYOR_JWT_AUDIENCE") or None,
            jwt_jwks_url=env.get("CONVEYOR_JWT_JWKS_URL") or None,
            jwt_key=env.get("CONVEYOR_JWT_KEY") or None,
            jwt_algorithms=tuple(
                a.strip() for a in env.get("CONVEYOR_JWT_ALGORITHMS", "RS256,ES256").split(",") if a.strip()
            ),
            jwt_role_claim=env.get("CONVEYOR_JWT_ROLE_CLAIM", "conveyor_role"),
            jwt_namespace_claim=env.get("CONVEYOR_JWT_NAMESPACE_CLAIM", "conveyor_namespace"),
            quota_starts_per_minute=_int("CONVEYOR_QUOTA_STARTS_PER_MINUTE", 0) or None,
            quota_alive=_int("CONVEYOR_QUOTA_ALIVE", 0) or None,
            max_body_bytes=_int("CONVEYOR_MAX_BODY", 1024 * 1024),
            allowed_hosts=_hosts(env.get("CONVEYOR_ALLOWED_HOSTS", "")),
            allowed_origins=_origins(env.get("CONVEYOR_ALLOWED_ORIGINS", "")),
            header_timeout_seconds=_float("CONVEYOR_HEADER_TIMEOUT", 10.0),
            max_connections=_int("CONVEYOR_MAX_CONNECTIONS", 1000),
            max_waits=_int("CONVEYOR_MAX_WAITS", 100),
            secret_key=env.get(SECRET_KEY_VARIABLE) or None,
            env_secrets=env_secrets(env),
            retention=_retention(env.get("CONVEYOR_RETENTION")),
            retention_batch_size=_int("CONVEYOR_RETENTION_BATCH_SIZE", 1000),
            migrate_on_start=env.get("CONVEYOR_MIGRATE_ON_START", "").lower() not in ("0", "false", "no", "off"),
            answers=AnswerLimits(
                max_bytes=_int("CONVEYOR_MAX_ANSWER", AnswerLimits().max_bytes),
                read_seconds=_float("CONVEYOR_ANSWER_SECONDS", AnswerLimits().read_seconds),
            ),
            max_result_bytes=_int("CONVEYOR_MAX_RESULT", 1024 * 1024),
            step_timeout=_positive_duration("CONVEYOR_STEP_TIMEOUT", timedelta(minutes=5)),
            max_step_timeout=_positive_duration("CONVEYOR_MAX_STEP_TIMEOUT", timedelta(minutes=15)),
            max_flow_depth=_int("CONVEYOR_MAX_FLOW_DEPTH", 10),
            max_steps=_int("CONVEYOR_MAX_STEPS", 1000),
            max_visits=_int("CONVEYOR_MAX_VISITS", 100),
            execution_timeout=(
                _positive_duration("CONVEYOR_EXECUTION_TIMEOUT", timedelta(0))
                if env.get("CONVEYOR_EXECUTION_TIMEOUT")
                else None
            ),
            email_rate=parse_rate(env["CONVEYOR_EMAIL_RATE"]) if env.get("CONVEYOR_EMAIL_RATE") else None,
        )

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

    def credentials(self) -> dict[str, str | None]:
        """The credentials the settings hold, by the name a redacted log shows."""
        return {
            "SMTP_PASSWORD": self.smtp_password,
            "CONVEYOR_SMS_PASSWORD": self.sms_password,
            "CONVEYOR_API_TOKEN": self.api_token,
            "CONVEYOR_METRICS_TOKEN": self.metrics_token,
            "CONVEYOR_KEY_SECRET": self.key_secret,
            SECRET_KEY_VARIABLE: self.secret_key,
        }


SECRET_KEY_VARIABLE = "CONVEYOR_SECRET_KEY"  # noqa: S105 - a variable name, not a secret
SECRET_VARIABLE_PREFIX = "CONVEYOR_SECRET_"  # noqa: S105 - a name prefix


def env_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The secrets given as CONVEYOR_SECRET_<NAME> variables, by NAME (the key itself is none of them)."""
    return {
        name[len(SECRET_VARIABLE_PREFIX) :]: value
        for name, value in env.items()
        if name.startswith(SECRET_VARIABLE_PREFIX) and name != SECRET_KEY_VARIABLE and value
    }
