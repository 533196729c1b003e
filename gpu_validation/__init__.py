"""Real-model validation runs (tiny CPU mode for CI; full mode on a GPU)."""
