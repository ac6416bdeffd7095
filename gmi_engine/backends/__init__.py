"""Where tables live and jobs run: ``local`` (embedded GeoPackage store + process pool) and ``odps``."""
