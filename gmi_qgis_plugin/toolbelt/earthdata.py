"""Earthdata Login credentials from the QGIS authentication database, read at run time only.

Two kinds of auth config are accepted: *Basic* (user name and password of the Earthdata Login)
and a token config (*EsriToken* in QGIS 3.22, *APIHeader* in later versions: the token, or an
``Authorization: Bearer …`` header). The values go to earthaccess in memory; the secret is
registered with the plugin logger's mask and never written to settings or logs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from qgis.core import QgsApplication, QgsAuthMethodConfig

from gmi_qgis_plugin.errors import GmiPluginError
from gmi_qgis_plugin.toolbelt.log_handler import MASK, PlgLogger

TOKEN_METHODS = ("EsriToken", "APIHeader")


class EarthdataCredentialsError(GmiPluginError, RuntimeError):
    """The auth config is missing, locked, empty or of a type Earthdata cannot use."""


@dataclass(frozen=True)
class EarthdataCredentials:
    """A user name and password, or a token; ``repr`` and ``str`` never show the secret."""

    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    token: Optional[str] = field(default=None, repr=False)

    def __str__(self) -> str:
        kind = "token" if self.token else "user {!r}".format(self.username)
        return "EarthdataCredentials({}, secret={})".format(kind, MASK)

    __repr__ = __str__


def _token(config: QgsAuthMethodConfig) -> str:
    if config.method() == "EsriToken":
        return config.config("token", "")
    values = [config.config(key, "") for key in config.configMap()]
    for value in values:
        if value.lower().startswith("bearer "):
            return value[7:].strip()
    return values[0] if len(values) == 1 else ""


def read_earthdata_credentials(auth_id: str) -> Optional[EarthdataCredentials]:
    """The credentials of auth config ``auth_id``; None for an empty id (earthaccess's own sources then)."""
    if not auth_id:
        return None
    manager = QgsApplication.authManager()
    if auth_id not in manager.configIds():
        raise EarthdataCredentialsError(f"authentication config {auth_id!r} does not exist")
    config = QgsAuthMethodConfig()
    if not manager.loadAuthenticationConfig(auth_id, config, True) or not config.isValid(True):
        raise EarthdataCredentialsError(f"authentication config {auth_id!r} cannot be read "
                                        "(is the master password set?)")
    if config.method() == "Basic":
        username, password = config.config("username", ""), config.config("password", "")
        if not username or not password:
            raise EarthdataCredentialsError(f"authentication config {auth_id!r} has an empty user name or password")
        PlgLogger.register_secret(password)
        return EarthdataCredentials(username=username, password=password)
    if config.method() in TOKEN_METHODS:
        token = _token(config)
        if not token:
            raise EarthdataCredentialsError(f"authentication config {auth_id!r} holds no token")
        PlgLogger.register_secret(token)
        return EarthdataCredentials(token=token)
    raise EarthdataCredentialsError(f"authentication config {auth_id!r} is of type {config.method()!r}; Earthdata "
                                    "needs 'Basic' (Earthdata Login user name and password) or a token config")
