"""Export: result rows -> GeoTIFF/COG per tile and output, VRTs, QGIS styles, STAC items, quick-looks.

::

    from gmi_engine.backends.local import LocalStore
    from gmi_engine.export import export_results, quicklook_png

    with LocalStore("ws") as store:
        report = export_results(store, "out", "mineral_indices")
    quicklook_png("out", "out/quicklook.png")

The file layout is described in :mod:`gmi_engine.export.layout`.
"""
from gmi_engine.export.geotiff import REFLECTANCE_SCALE, UINT16_NODATA  # noqa: F401
from gmi_engine.export.layout import RGB_PRESETS, ExportLayout  # noqa: F401
from gmi_engine.export.quicklook import quicklook_png, render_quicklook  # noqa: F401
from gmi_engine.export.results import REFLECTANCE_DTYPES, ExportReport, export_results  # noqa: F401
from gmi_engine.export.stac import check_stac_item  # noqa: F401
from gmi_engine.export.style import index_style  # noqa: F401
