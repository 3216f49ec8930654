"""`CallerIdentity` on boto3: who these credentials are (STS GetCallerIdentity).

`eksup approve` records the caller's ARN as the approver by default: a name the person cannot
type differently from who they are, unlike an OS user name.
"""

from __future__ import annotations

from upgrader.adapters.aws.clients import AwsClients


class Boto3CallerIdentity:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def caller_arn(self) -> str:
        sts = self.clients.sts
        # A lambda, not the bound method: `eksup iam-policy` reads the call off this line.
        response = self.clients.call_sts(lambda: sts.get_caller_identity())  # noqa: PLW0108
        return str(response["Arn"])
