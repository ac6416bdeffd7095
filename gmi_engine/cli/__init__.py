"""The ``gmi`` command line: :mod:`gmi_engine.cli.main` and one module per command group.

Only this package may import its modules; the engine and the QGIS plugin never do.
"""
