"""`eksup plan --ami-type al2023|bottlerocket`: the way off Amazon Linux 2 for green groups.

There is no AL2 AMI for Kubernetes 1.33 and later, so an AL2 managed node group cannot follow
the control plane there. A blue/green replacement can change the AMI type (EKS cannot change
it in place), so with `--ami-type` each AL2 managed group's green group gets the AL2023 or
Bottlerocket type of the same architecture and accelerator, from its first replacement on.

What it does not change, and a person must: user data. AL2023 nodes are configured by nodeadm
(a `NodeConfig` YAML part in the launch template's MIME user data), not bootstrap.sh;
Bottlerocket by TOML settings, with no shell. AL2023 also defaults to IMDSv2 with a hop limit
of 1 (pods without host networking lose IMDS) and cgroup v2. A group whose launch template
names its own AMI keeps it: its template must move. Self-managed groups are not covered.
"""

from __future__ import annotations

from upgrader.core.errors import UserError

FAMILIES = ("al2023", "bottlerocket")

# AL2 type -> the same architecture and accelerator in each family (EKS AmiType values).
_MOVES = {
    "al2023": {
        "AL2_x86_64": "AL2023_x86_64_STANDARD",
        "AL2_ARM_64": "AL2023_ARM_64_STANDARD",
        "AL2_x86_64_GPU": "AL2023_x86_64_NVIDIA",
    },
    "bottlerocket": {
        "AL2_x86_64": "BOTTLEROCKET_x86_64",
        "AL2_ARM_64": "BOTTLEROCKET_ARM_64",
        "AL2_x86_64_GPU": "BOTTLEROCKET_x86_64_NVIDIA",
    },
}

CAVEATS = {
    "al2023": "user data must become a nodeadm NodeConfig (no bootstrap.sh); IMDSv2 with hop "
    "limit 1 (pods off the host network lose IMDS unless the limit is raised); cgroup v2",
    "bottlerocket": "user data must become Bottlerocket TOML settings (no shell, no "
    "bootstrap.sh); no SSH by default (admin container); cgroup v2",
}


def parse_family(value: str | None) -> str | None:
    if value is None:
        return None
    family = value.strip().lower()
    if family not in FAMILIES:
        raise UserError(f"--ami-type {value}: give al2023 or bottlerocket")
    return family


def green_ami_type(family: str | None, ami_type: str | None) -> str | None:
    """The AMI type a green group gets: moved off AL2 when a family was chosen, else kept."""
    if family is None or ami_type is None:
        return ami_type
    return _MOVES[family].get(ami_type, ami_type)
