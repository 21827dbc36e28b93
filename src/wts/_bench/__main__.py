"""``python -m wts._bench``: the ``wts bench`` command on its own (tools/wine_bench.sh runs it so)."""

from __future__ import annotations

import sys

from ._main import main

sys.exit(main())
