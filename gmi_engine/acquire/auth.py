"""Earthdata Login through earthaccess: its environment and .netrc strategies, or given credentials.

Credentials are handed to earthaccess and never logged, stored or put in a message here.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import earthaccess
from earthaccess.exceptions import LoginAttemptFailure, LoginStrategyUnavailable

from gmi_engine.acquire.errors import EarthdataLoginError

_ENV_KEYS = ("EARTHDATA_TOKEN", "EARTHDATA_USERNAME", "EARTHDATA_PASSWORD")
SIGN_UP_HINT = ("get an Earthdata Login at https://urs.earthdata.nasa.gov/users/new, then set EARTHDATA_TOKEN "
                "(or EARTHDATA_USERNAME and EARTHDATA_PASSWORD) or add 'machine urs.earthdata.nasa.gov' to ~/.netrc")


@contextmanager
def _environment(values: Dict[str, str]) -> Iterator[None]:
    """Set the EARTHDATA_* variables to ``values`` (others unset) for the block, then restore them."""
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    try:
        for key in _ENV_KEYS:
            os.environ.pop(key, None)
        os.environ.update(values)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def login(token: Optional[str] = None, username: Optional[str] = None,
          password: Optional[str] = None) -> earthaccess.Auth:
    """An authenticated :class:`earthaccess.Auth`.

    With ``token`` or ``username``/``password`` (e.g. from the QGIS auth manager) those are used;
    otherwise earthaccess's own sources in its order: EARTHDATA_TOKEN or EARTHDATA_USERNAME and
    EARTHDATA_PASSWORD in the environment, then ``~/.netrc`` (or $NETRC).
    """
    auth = earthaccess.Auth()
    try:
        if token or (username and password):
            given = {"EARTHDATA_TOKEN": token} if token else {"EARTHDATA_USERNAME": username or "",
                                                              "EARTHDATA_PASSWORD": password or ""}
            with _environment(given):
                auth.login(strategy="environment")
        else:
            for strategy in ("environment", "netrc"):
                try:
                    auth.login(strategy=strategy)
                except LoginStrategyUnavailable:
                    continue
                if auth.authenticated:
                    break
    except LoginAttemptFailure:
        raise EarthdataLoginError("Earthdata login failed: Earthdata Login rejected the credentials") from None
    if not auth.authenticated:
        raise EarthdataLoginError("Earthdata login failed: no credentials found; " + SIGN_UP_HINT)
    return auth
