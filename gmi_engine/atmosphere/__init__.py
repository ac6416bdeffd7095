"""atmosphere."""
