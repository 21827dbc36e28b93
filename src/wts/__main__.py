"""``python -m wts``: the ``wts`` command (docs/cli.md)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
