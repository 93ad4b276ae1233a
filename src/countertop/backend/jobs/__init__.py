"""Background work of the backend: the outbox (capture retries) and the sweep."""
