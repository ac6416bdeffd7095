"""aster."""
