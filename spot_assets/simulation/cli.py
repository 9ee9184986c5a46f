"""`spot simulate`: placeholder until the simulator lands."""


def register(subparsers) -> None:
    """Add the `simulate` subcommand to the `spot` parser."""
