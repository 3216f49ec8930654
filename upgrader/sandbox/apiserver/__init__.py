"""The FakeCluster served over HTTP as a Kubernetes API server."""
