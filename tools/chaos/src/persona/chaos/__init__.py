"""persona.chaos: ``persona chaos``, the fault matrix on the real stack.

Each row of the matrix runs the three flows under load on a private scenario, injects one fault,
drains, and checks the pipeline's invariants against ``persona replay`` over the same input
(docs/reliability.md). The invariant checks, the rows and the table are pure (``invariants``,
``rows``, ``table``); the rest does the I/O.
"""
