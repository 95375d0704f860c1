"""Command-line interface: a thin shell over `b12plan.services`."""
