"""Examples of user code built on theorykit (importable from the repository root, e.g.
``theorykit compressor examples.my_compressor:MyCompressor --verify``)."""
