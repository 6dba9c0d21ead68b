"""``python -m gale_operator`` and the ``gale-operator`` console script."""

from __future__ import annotations

from gale_operator.cli import main

if __name__ == "__main__":
    main()
