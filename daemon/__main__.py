"""``triaged`` / ``python -m daemon``: parse arguments, run the chosen command."""

from __future__ import annotations

import sys

from daemon.cli import run


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
