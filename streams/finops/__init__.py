"""FinOps views: showback, budgets and forecasts, estimates, key inventory, reconciliation."""
