"""ancillary."""
