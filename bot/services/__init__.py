"""Use cases: each opens a unit of work, loads, applies a rule and returns plain data."""
