"""The pure core of b12plan: no I/O, no clock. Everything here takes values and returns values."""
