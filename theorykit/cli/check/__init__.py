"""Subcommands of ``theorykit check`` (one module each, exposing ``register``)."""
