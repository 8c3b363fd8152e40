"""`python -m bijli`."""

from bijli.cli import main

main()
