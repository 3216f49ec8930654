"""The tool on the sandbox: the `--sandbox` target, the sandbox fleet, and `eksup demo`.

The one layer, just below the CLI, that joins the sandbox's worlds to the use cases: `targets`
opens the demo cluster (embedded, or served by `eksup sandbox up`) as a use case's `Target`;
`fleet_world` and `served_fleet` do the same for the sandbox fleet; `tour` (the whole demo),
`canary` and `fleet` drive the use cases over those worlds. No use case imports the sandbox:
the CLI hands them what this package opens.
"""
