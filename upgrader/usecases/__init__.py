"""What each command does: wire a target's ports, lock, confirm, call the domain."""
