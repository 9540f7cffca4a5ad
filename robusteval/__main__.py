"""Entry point for ``python -m robusteval``."""

import sys

from robusteval.cli import main

if __name__ == "__main__":
    sys.exit(main())
