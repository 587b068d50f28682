"""Fault injection: model (validated specs), registry (TTL), inject (request hook), CLI."""
