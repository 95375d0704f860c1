"""Pure translators from b12plan's domain values to the formats other people and systems read.

Adapters take values and return values (text, bytes, dicts): no I/O, no clock, no decisions. Surfaces (the
CLI, the web app) call them; they never call a surface.
"""
