"""Alert lifecycle, routing and receivers (no Faust)."""
