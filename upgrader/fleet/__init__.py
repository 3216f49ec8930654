"""Fleet upgrades, the domain: many clusters in stages, upstream before downstream.

`spec` (and `spec_file`) reads fleet.yaml; `order` turns it into stages of groups of clusters;
`run_doc` is the frozen fleet run; `windows` and `policy` decide when a cluster may start and
when a stage has failed; `state` keeps the run's journal; `render` prints plans and status.
Nothing here opens a cluster or calls a use case: planning every member and the engines that
execute a run are in `upgrader.usecases.fleet`, the commands in `upgrader.cli.fleet*`.
"""
