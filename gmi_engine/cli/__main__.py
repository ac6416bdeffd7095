"""``python -m gmi_engine.cli``: the ``gmi`` command."""
import sys

from gmi_engine.cli.main import main

sys.exit(main())
