"""`python -m upgrader.cli`: the same as calling `upgrader.cli.main`."""

from upgrader.cli import main

main()
