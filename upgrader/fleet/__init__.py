"""Fleet upgrades: many clusters in stages, upstream before downstream, on one machine or Argo.

`spec` reads fleet.yaml; `order` turns it into stages of groups of clusters; `planning` plans
every cluster and freezes one fleet run (`run_doc`); the engines execute that run with the same
semantics (`engines.local` in this process, `engines.argo` as an Argo Workflow); `state` keeps
the run's journal; `render` prints plans and status.
"""
