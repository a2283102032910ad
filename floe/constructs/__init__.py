"""Policies and workload shapes written once and applied by every component."""
