"""Maintenance scripts (screenshots); run from the repository root with PYTHONPATH=."""
