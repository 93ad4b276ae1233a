"""Countertop: in-person card payments on Stripe Terminal smart readers."""

__version__ = "0.1.0"
