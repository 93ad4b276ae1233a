"""Use cases of the backend: orders, payments, readers, locations, capture, sweeps."""
