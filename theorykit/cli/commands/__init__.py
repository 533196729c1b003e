"""One module per ``theorykit`` subcommand, each with ``register(subparsers)``."""
