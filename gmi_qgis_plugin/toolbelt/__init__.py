"""Plugin plumbing: settings, logging, credentials, background tasks, layers, jobs."""
from gmi_qgis_plugin.toolbelt.log_handler import PlgLogger  # noqa: F401
from gmi_qgis_plugin.toolbelt.preferences import PlgOptionsManager, PlgSettingsStructure  # noqa: F401
