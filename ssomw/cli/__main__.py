"""``python -m ssomw.cli``."""

from ssomw.cli import main

main()
