"""MaxCompute credentials from the QGIS authentication database, read at run time only.

A MaxCompute account is stored as a QGIS *Basic* auth config: user name = AccessKey ID,
password = AccessKey secret. The plugin settings keep the config's id; the secret is read
just before a job connects, held by that job in memory and never written anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from qgis.core import QgsApplication, QgsAuthMethodConfig

from gmi_qgis_plugin.errors import GmiPluginError
from gmi_qgis_plugin.toolbelt.log_handler import MASK, PlgLogger

AUTH_METHOD = "Basic"


class CredentialsError(GmiPluginError, RuntimeError):
    """The auth config is missing, locked or not a Basic (id + secret) config."""


@dataclass(frozen=True)
class OdpsCredentials:
    """An AccessKey pair; ``repr`` and ``str`` never show the secret."""

    access_id: str
    secret: str = field(repr=False)
    auth_id: str = ""

    def __str__(self) -> str:
        return f"OdpsCredentials(access_id={self.access_id!r}, secret={MASK}, auth_id={self.auth_id!r})"

    __repr__ = __str__


def read_odps_credentials(auth_id: str) -> OdpsCredentials:
    """The AccessKey pair of auth config ``auth_id`` (main thread: may ask the master password)."""
    if not auth_id:
        raise CredentialsError("no MaxCompute authentication configured "
                               "(Settings > Options > GMI: choose or create a Basic auth config)")
    manager = QgsApplication.authManager()
    if auth_id not in manager.configIds():
        raise CredentialsError(f"authentication config {auth_id!r} does not exist")
    config = QgsAuthMethodConfig()
    ok = manager.loadAuthenticationConfig(auth_id, config, True)
    if not ok or not config.isValid(True):
        raise CredentialsError(f"authentication config {auth_id!r} cannot be read "
                               "(is the master password set?)")
    if config.method() != AUTH_METHOD:
        raise CredentialsError(f"authentication config {auth_id!r} is of type {config.method()!r}; MaxCompute needs a "
                               "'Basic' config (user name = AccessKey ID, password = AccessKey secret)"
                               )
    access_id = config.config("username", "")
    secret = config.config("password", "")
    if not access_id or not secret:
        raise CredentialsError(f"authentication config {auth_id!r} has an empty user name or password")
    PlgLogger.register_secret(secret)
    return OdpsCredentials(access_id=access_id, secret=secret, auth_id=auth_id)

