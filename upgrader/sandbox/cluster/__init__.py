"""FakeCluster: the Kubernetes world simulated on a virtual clock."""
