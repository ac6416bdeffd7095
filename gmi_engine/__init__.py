"""GMI engine: ASTER L1T granules to atmospherically corrected mosaics and mineral indices.

The engine never imports QGIS; the QGIS plugin (``gmi_qgis_plugin``) imports the engine.
"""
import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
