"""The engines a fleet run executes on: `local` (a bounded pool in this process) and `argo`."""
