"""``python -m textmask_desktop``: the same as the ``textmask`` command.

The menu entry falls back to this form when TextMask was not started from a ``textmask``
launcher script, for example from a source checkout.
"""

import sys

from textmask_desktop.cli import main

sys.exit(main())
