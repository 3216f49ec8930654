"""The shared core: domain types, ports, errors, exit codes. Imports no domain, no SDK."""
