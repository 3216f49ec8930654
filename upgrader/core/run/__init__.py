"""What every run needs and that knows no plan type: the journal and the Lease lock."""
