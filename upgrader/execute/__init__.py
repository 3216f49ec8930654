"""The upgrade engine: runs a Plan's steps with journal, lock, dry run and reporting."""
