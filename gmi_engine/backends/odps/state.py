"""The workspace's ``odps_state.json``: which batch was uploaded, which runs were submitted."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Mapping

from gmi_engine.errors import BackendError

STATE_FILE = "odps_state.json"


def load_state(workspace) -> Dict[str, Any]:
    """``<workspace>/odps_state.json`` (empty when missing). Holds no secret."""
    path = Path(workspace) / STATE_FILE
    if not path.exists():
        return {"runs": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackendError("{}: unreadable ({}); delete it to start over".format(path, exc)) from None
    state.setdefault("runs", {})
    return state


def save_state(workspace, state: Mapping[str, Any]) -> None:
    """Write the state file atomically."""
    path = Path(workspace) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(str(tmp), str(path))


def default_batch(workspace) -> str:
    """The batch recorded for the workspace, else a name made from its folder name."""
    state = load_state(workspace)
    if state.get("batch"):
        return state["batch"]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(workspace).resolve().name)[:64].strip("._-")
    return name or "default"


def now_text() -> str:
    """UTC now as ISO text (for the state file)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
