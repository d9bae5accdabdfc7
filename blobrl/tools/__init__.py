"""Operational tools: long checks of a whole system, run by hand or by ``make`` (``soak``)."""
