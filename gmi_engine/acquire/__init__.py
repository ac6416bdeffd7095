"""Find and fetch GMI's inputs from NASA Earthdata with earthaccess (CMR search, Earthdata Login).

- :func:`~gmi_engine.acquire.search.search_aster`: AST_L1T granules (v003 and v3.1) over an AOI.
- :func:`~gmi_engine.acquire.search.search_ancillaries`: the MCD19A2, MOD09A1 and ASTGTM files
  that match chosen granules (same day / 8-day composite, MODIS sinusoidal tiles, 1° GDEM tiles).
- :func:`~gmi_engine.acquire.download.download`: files into a cache folder, resumable, checked,
  parallel, with the :mod:`gmi_engine.progress` protocol.
- :func:`~gmi_engine.acquire.auth.login`: earthaccess's own credential sources.
"""
