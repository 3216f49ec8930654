"""The Cluster port on the official kubernetes client: its only importer."""
