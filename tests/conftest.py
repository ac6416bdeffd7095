"""Shared test set-up: a private 6S cache per test session, headless Qt."""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# 6S results are cached on disk by state; keep each test session's cache private and fresh.
os.environ["GMI_CACHE_DIR"] = tempfile.mkdtemp(prefix="gmi-test-cache-")
