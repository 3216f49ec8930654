"""The sandbox: a fake cluster, the moto EKS extension, the servers and the demo worlds.

Installed with the `sandbox` extra. Importing it without that extra raises one `UserError`
saying how to install it (see `upgrader.core.sandbox_extra`), before anything imports moto.
"""

from upgrader.core.sandbox_extra import require_sandbox

require_sandbox()
