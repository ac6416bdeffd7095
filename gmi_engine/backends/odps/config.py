"""Connecting to MaxCompute: the configuration from the environment, error translation, scrubbing."""
from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional, Sequence, Tuple

from gmi_engine.errors import BackendError, GmiInputError

_AUTH_CODES = ("SignatureNotMatch", "InvalidAccessKeyId", "AuthorizationRequired", "NoPermission",
               "AccessDenied", "AuthenticationRequestExpired", "Unauthorized")
_SECRET_LOGGERS = {"odps.rest": logging.INFO, "odps.accounts": logging.WARNING}
"""pyodps loggers that print secrets, and the lowest level GMI lets through: ``odps.rest`` prints
request headers (signature, STS token) at DEBUG; ``odps.accounts`` also prints a reloaded STS or
bearer token at INFO."""



def _env(environ: Mapping[str, str], *names: str) -> Optional[str]:
    for name in names:
        value = (environ.get(name) or "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class OdpsConfig:
    """Where and as whom to connect. Secret fields are excluded from ``repr``."""

    project: str
    endpoint: str
    access_id: Optional[str] = field(default=None, repr=False)
    secret: Optional[str] = field(default=None, repr=False)
    sts_token: Optional[str] = field(default=None, repr=False)
    tunnel_endpoint: Optional[str] = None
    quota: Optional[str] = None
    logview_host: Optional[str] = None
    room: Optional[str] = None
    connect_timeout: float = 30.0
    read_timeout: float = 120.0

    ENV_HELP = (
        "ODPS_ACCESS_ID or ALIBABA_CLOUD_ACCESS_KEY_ID; ODPS_SECRET_ACCESS_KEY or "
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET; optional ODPS_STS_TOKEN or ALIBABA_CLOUD_SECURITY_TOKEN; "
        "ODPS_PROJECT_NAME; ODPS_ENDPOINT; optional ODPS_TUNNEL_ENDPOINT, ODPS_QUOTA_NAME, "
        "ODPS_LOGVIEW_HOST; or GMI_ODPS_ROOM naming a pyodps room (odps.inter.setup)")

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "OdpsConfig":
        """Read the connection from environment variables (see :attr:`ENV_HELP`).

        ``overrides`` (project, endpoint, tunnel_endpoint, quota, ...) win over the
        environment; secrets can only come from the environment or a pyodps room.
        """
        env = os.environ if environ is None else environ
        values = {
            "project": _env(env, "ODPS_PROJECT_NAME", "ODPS_PROJECT"),
            "endpoint": _env(env, "ODPS_ENDPOINT"),
            "access_id": _env(env, "ODPS_ACCESS_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
            "secret": _env(env, "ODPS_SECRET_ACCESS_KEY", "ODPS_ACCESS_KEY", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            "sts_token": _env(env, "ODPS_STS_TOKEN", "ALIBABA_CLOUD_SECURITY_TOKEN"),
            "tunnel_endpoint": _env(env, "ODPS_TUNNEL_ENDPOINT"),
            "quota": _env(env, "ODPS_QUOTA_NAME"),
            "logview_host": _env(env, "ODPS_LOGVIEW_HOST"),
            "room": _env(env, "GMI_ODPS_ROOM"),
        }  # type: Dict[str, Any]
        for key in ("access_id", "secret", "sts_token"):
            if key in overrides:
                raise GmiInputError("{}: credentials are read from the environment only".format(key))
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["room"] is None:
            missing = [label for key, label in (("access_id", "ODPS_ACCESS_ID"),
                                                ("secret", "ODPS_SECRET_ACCESS_KEY"),
                                                ("project", "ODPS_PROJECT_NAME"),
                                                ("endpoint", "ODPS_ENDPOINT")) if not values[key]]
            if missing:
                raise GmiInputError("MaxCompute connection: {} not set (environment: {})".format(
                    ", ".join(missing), cls.ENV_HELP))
        return cls(**{k: v for k, v in values.items() if v is not None or k in ("project", "endpoint")})

    def secrets(self) -> Tuple[str, ...]:
        """Values that must never appear in output (used to scrub messages)."""
        return tuple(v for v in (self.secret, self.sts_token) if v)

    def describe(self) -> str:
        """A one-line summary without any secret (the access id is shortened)."""
        if self.room:
            who = "pyodps room {!r}".format(self.room)
        else:
            long_enough = self.access_id and len(self.access_id) > 8
            short = (self.access_id[:4] + "..." + self.access_id[-2:]) if long_enough else "***"
            who = "access id {}{}".format(short, " + STS token" if self.sts_token else "")
        parts = ["project {}".format(self.project or "(room's)"), "endpoint {}".format(self.endpoint or "(room's)"),
                 who]
        if self.tunnel_endpoint:
            parts.append("tunnel {}".format(self.tunnel_endpoint))
        if self.quota:
            parts.append("quota {}".format(self.quota))
        return ", ".join(parts)


def _hold_secret_loggers() -> None:
    for name, lowest in _SECRET_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < lowest or logger.level < lowest:
            logger.setLevel(lowest)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value (and Authorization / STS header values) masked."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    text = re.sub(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(ODPS\s+)?[^\s'\",}]+(:[^\s'\",}]+)?",
                  r"\1***", text)
    return re.sub(r"(?i)(authorization-sts-token['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+", r"\1***", text)


def connect(config: OdpsConfig):
    """An ``odps.ODPS`` entry for ``config`` (pyodps global options are left alone)."""
    from odps import ODPS, options
    from odps.accounts import StsAccount

    _hold_secret_loggers()
    options.connect_timeout = max(1, int(round(config.connect_timeout)))
    options.read_timeout = max(1, int(round(config.read_timeout)))
    with backend_errors("connect to MaxCompute ({})".format(config.describe()), config.secrets()):
        if config.room:
            from odps.errors import InteractiveError
            from odps.inter import enter

            try:
                return enter(config.room).odps
            except InteractiveError as exc:
                raise BackendError("pyodps room {!r}: {}".format(config.room, exc)) from None
        kwargs = dict(project=config.project, endpoint=config.endpoint, overwrite_global=False,
                      tunnel_endpoint=config.tunnel_endpoint, logview_host=config.logview_host)
        if config.sts_token:
            return ODPS(StsAccount(config.access_id, config.secret, config.sts_token), **kwargs)
        return ODPS(config.access_id, config.secret, **kwargs)


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None) or type(exc).__name__
    return str(code).split(":", 1)[0]


@contextmanager
def backend_errors(what: str, secrets: Sequence[str]) -> Iterator[None]:
    """Turn pyodps / network errors into BackendError naming ``what``, without secrets."""
    import requests
    from odps import errors as odps_errors

    try:
        yield
    except BackendError:
        raise
    except requests.exceptions.Timeout as exc:
        raise BackendError(scrub("{}: MaxCompute did not answer in time ({})".format(
            what, type(exc).__name__), secrets)) from None
    except requests.exceptions.RequestException as exc:
        raise BackendError(scrub("{}: cannot reach MaxCompute ({}: {})".format(
            what, type(exc).__name__, exc), secrets)) from None
    except odps_errors.BaseODPSError as exc:
        code = _error_code(exc)
        message = str(exc.args[0] if exc.args else exc).strip()
        text = "{}: {} {}".format(what, code, message)
        if code in _AUTH_CODES or getattr(exc, "status_code", None) in (401, 403):
            text += (" -- MaxCompute refused the credentials or their permissions; check the "
                     "access id / secret / STS token in the environment (values are not shown)")
        request_id = getattr(exc, "request_id", None)
        if request_id:
            text += " [request id {}]".format(request_id)
        raise BackendError(scrub(text, secrets)) from None
