"""Pipeline stages, one verb each: dedupe, correlate, score. Pure over a ``WorkSet``."""
