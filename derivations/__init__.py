"""Literature results as checkable claims: one module per source paper.

Each module registers its claims with :func:`theorykit.check.registry.claim`; every module
here is imported by :func:`theorykit.check.registry.all_claims`. Each claim's
:class:`~theorykit.check.claim.Source` says honestly whether the statement is the paper's
(abstract-level, read), recalled (not checked against the PDF) or derived by theorykit.
"""
