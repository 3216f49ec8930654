"""Pure renderings of plans, runbooks and run status for people and CI."""
