"""A read-only viewer of JSON documents (STAC items, provenance): tree and raw text."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Dict, Optional

from qgis.PyQt.QtGui import QFontDatabase
from qgis.PyQt.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gmi_qgis_plugin.toolbelt.icons import plugin_icon


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


class DlgJsonViewer(QDialog):
    """Shows one of several JSON files: a collapsible tree and the pretty-printed text."""

    def __init__(self, paths: Sequence[str], title: str = "", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.paths = [str(p) for p in paths]
        self.document: Dict[str, Any] = {}
        self.setWindowTitle(title or self.tr("GMI – Provenance"))
        self.setWindowIcon(plugin_icon("provenance"))
        self.resize(760, 640)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Document"), self))
        self.cmb_file = QComboBox(self)
        for path in self.paths:
            self.cmb_file.addItem(Path(path).name, path)
        self.cmb_file.currentIndexChanged.connect(lambda *_: self.show_document(self.cmb_file.currentData()))
        row.addWidget(self.cmb_file, 1)
        layout.addLayout(row)
        self.tabs = QTabWidget(self)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels([self.tr("Key"), self.tr("Value")])
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.tabs.addTab(self.tree, self.tr("Tree"))
        self.tabs.addTab(self.text, self.tr("JSON"))
        layout.addWidget(self.tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton(self.tr("Copy JSON"), QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QApplication.clipboard().setText(self.text.toPlainText()))
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        if self.paths:
            self.show_document(self.paths[0])

    def show_document(self, path: str) -> None:
        """Load and show ``path``."""
        try:
            with open(path, encoding="utf-8") as handle:
                self.document = json.load(handle)
        except (OSError, ValueError) as exc:
            self.document = {}
            self.text.setPlainText(self.tr("Cannot read {}: {}").format(path, exc))
            self.tree.clear()
            return
        self.text.setPlainText(json.dumps(self.document, indent=2, ensure_ascii=False))
        self.tree.clear()
        self._add(self.tree.invisibleRootItem(), self.document)
        for i in range(self.tree.topLevelItemCount()):
            self.tree.topLevelItem(i).setExpanded(True)

    def _add(self, parent: QTreeWidgetItem, value: Any) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            node = QTreeWidgetItem(parent, [str(key), ""])
            if isinstance(child, (dict, list)):
                node.setText(1, f"{{{len(child)}}}" if isinstance(child, dict) else f"[{len(child)}]")
                self._add(node, child)
            else:
                node.setText(1, _scalar_text(child))
                node.setToolTip(1, _scalar_text(child))
