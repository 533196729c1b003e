"""Catalog compressors: each module registers its specs with
:func:`theorykit.compressors.registry.register`. Every module here is imported on first use
of the catalog."""
