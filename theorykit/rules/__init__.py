"""Rules: scaling rules, bounds, rates and quantization optima derived in SymPy."""
