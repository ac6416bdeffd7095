"""Dialogs (``dlg_*``), widgets (``wdg_*``) and map tools (``maptool_*``) of the plugin."""
