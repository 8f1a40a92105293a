"""Glue between AWS events and the pure core: one module per function."""
