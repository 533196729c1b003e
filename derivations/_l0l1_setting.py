"""The shared setting of the (L0, L1) claims (``derivations/compagnoni2025_l0l1.py`` and
``derivations/compagnoni2025_l0l1_schedules.py``; Compagnoni, Islamov, Orvieto & Gorbunov,
arXiv 2506.00181 (2025)): one set of numbers for every simulation and check. The leading
underscore keeps this module out of the claim discovery."""

__all__ = ["DECAY", "ETA", "N_WORKERS", "OMEGA", "P_KEEP", "ROUND", "SIGMA", "THETA",
           "X0_LARGE"]

ETA = 0.1
N_WORKERS = 4
P_KEEP = 0.25  # Bernoulli compressor, omega = 3
OMEGA = 1.0 / P_KEEP - 1.0
SIGMA = 1.0
X0_LARGE = (4.0, 4.0)
DECAY = 0.6
THETA = 0.5  # the fraction of the descent the cap keeps
ROUND = 1e-9  # relative float64 rounding allowance of the deterministic checks
