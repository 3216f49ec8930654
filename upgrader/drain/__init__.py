"""Draining nodes: kubectl's eviction rules, the PDB-aware schedule, surge, estimates."""
