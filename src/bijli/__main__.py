"""`python -m bijli`."""

from bijli.entrypoints.cli import main

main()
