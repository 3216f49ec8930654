"""The tool on the sandbox: every `--sandbox` target, and `eksup demo`.

The one layer, just below the CLI, that joins the sandbox's worlds to the use cases: `targets`
opens the demo cluster (embedded, or served by `eksup sandbox up`) as a use case's `Target`, and
the sandbox fleet (`fleet_world`, `served_fleet`) as `eksup fleet ... --sandbox`'s members;
`rollout_ports` does it for `eksup rollout ... --sandbox`; `tour` (the whole demo), `canary` and
`fleet` drive the use cases over those worlds. No use case imports the sandbox: the CLI hands
them what this package opens.
"""
