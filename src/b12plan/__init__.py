"""b12plan: plans and follows vitamin B12 (cobalamin) injection treatment.

The software supports a prescriber; every plan it writes must be confirmed by one.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
