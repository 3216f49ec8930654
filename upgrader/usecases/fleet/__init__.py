"""Fleet runs, the use cases: `planning` plans every cluster (through the plan use case) and
freezes one fleet run; the engines execute that run with the same semantics (`engines.local`
in this process on a `pool`, `engines.argo` as an Argo Workflow whose leaves run `leaf`);
`targets` opens one member cluster through the real adapters.
"""
