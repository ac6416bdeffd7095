"""The ``gmi`` Processing provider and its algorithms (one per module); see :mod:`.provider`."""
