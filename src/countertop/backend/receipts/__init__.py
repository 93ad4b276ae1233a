"""Receipts as the customer gets them: HTML (screen, 80 mm thermal and A4 print), text and email."""
