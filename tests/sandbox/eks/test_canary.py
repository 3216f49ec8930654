"""Canary: the moto internals the EKS extension relies on. A moto upgrade that moves one of them
fails here, by name, rather than somewhere deep in a sandbox run."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import boto3
import botocore.session
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.base_backend import AccountSpecificBackend, BackendDict, BaseBackend
from moto.core.utils import camelcase_to_underscores
from moto.eks import models as moto_models
from moto.eks.exceptions import InvalidParameterException
from moto.eks.responses import EKSResponse
from moto.moto_api._internal import mock_random

from upgrader.sandbox.eks import extension as moto_eks
from upgrader.sandbox.eks import responses as moto_eks_responses
from upgrader.sandbox.eks.backend import SandboxEKSBackend


def test_moto_is_the_version_pyproject_pins() -> None:
    # The `sandbox` extra pins moto exactly (`moto[...]==X`): these tests vouch for that one.
    pyproject = Path(__file__).resolve().parent.parents[2] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text("utf-8"))["project"]["optional-dependencies"]
    (pin,) = [line for line in extra["sandbox"] if line.startswith("moto[")]
    assert pin.split("==")[1] == moto.__version__


def test_moto_still_lacks_what_the_extension_adds() -> None:
    # If moto implements these, compare before keeping ours: theirs may now be good enough.
    for operation in ("update_cluster_version", "describe_update", "create_addon"):
        assert not hasattr(EKSResponse, operation), operation
        assert not hasattr(moto_models.EKSBackend, operation), operation


def test_backends_are_swapped_through_the_backend_dict() -> None:
    # install() sets BackendDict.backend and clears built accounts; both must stay meaningful.
    assert isinstance(moto_models.eks_backends, BackendDict)
    assert moto_models.eks_backends.backend in (moto_models.EKSBackend, SandboxEKSBackend)
    assert "self.backend" in inspect.getsource(BackendDict._create_account_specific_backend)
    assert isinstance(BaseBackend.__dict__["_url_module"], property)
    assert "_url_module" in inspect.getsource(BaseBackend.__dict__["urls"].fget)
    # reset() rebuilds a backend by calling __init__ on its own class: ours survives a reset.
    assert "self.__init__" in inspect.getsource(BaseBackend.reset)


def test_installed_backend_serves_the_added_paths() -> None:
    moto_eks.install()
    backend = moto_eks.eks_backend("us-east-1")
    paths = backend.url_paths
    assert "/clusters/(?P<name>[^/]+)/updates$" in paths
    assert all(
        handler == moto_eks_responses.SandboxEKSResponse.dispatch for handler in paths.values()
    )


def test_every_routed_operation_has_a_handler() -> None:
    # A routed URL whose operation has no handler is a 500 on moto's server, which boto3 retries.
    model = botocore.session.get_session().get_service_model("eks")
    patterns = [re.compile(path.format("")) for path in moto_eks_responses.url_paths]
    handlers = set(dir(moto_eks_responses.SandboxEKSResponse))
    for name in model.operation_names:
        uri = model.operation_model(name).http["requestUri"].split("?")[0]
        if any(p.match(re.sub(r"\{[^}]+\}", "x", uri)) for p in patterns):
            assert camelcase_to_underscores(name) in handlers, name


def test_moto_cluster_takes_what_we_pass_and_sets_what_we_derive() -> None:
    parameters = inspect.signature(moto_models.Cluster.__init__).parameters
    expected = {"name", "role_arn", "resources_vpc_config", "version", "account_id", "region_name"}
    assert expected <= set(parameters)
    source = inspect.getsource(moto_models.Cluster.__init__)
    for attribute in ("self.status", "self.version", "self.platformVersion"):
        assert attribute in source  # our properties' setters catch these


def test_moto_helpers_the_backend_reuses() -> None:
    assert "{uuid}" in moto_models.NODEGROUP_ARN_TEMPLATE
    assert "{clusterName}" in moto_models.CLUSTER_NOT_FOUND_MSG
    assert set(moto_models.DEFAULT_SCALING_CONFIG) == {"minSize", "maxSize", "desiredSize"}
    assert callable(moto_models.validate_launch_template_combination)
    assert AccountSpecificBackend.get_session() is AccountSpecificBackend.get_session()
    assert re.fullmatch(r"[0-9a-f-]{36}", str(mock_random.uuid4()))


def test_eks_errors_carry_their_type_and_message() -> None:
    # moto 5.2.6 made its EKS errors `ServiceException`s (5.2.5: werkzeug HTTP errors) that its
    # serializer turns into AWS's JSON error: what matters is what boto3 sees, so check that,
    # through a real client, for an error our extension raises (moto_eks_errors).
    moto_eks.install()
    with mock_aws():
        eks = boto3.client(
            "eks",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        eks.create_cluster(
            name="prod",
            version="1.29",
            roleArn="arn:aws:iam::123456789012:role/eks",
            resourcesVpcConfig={"subnetIds": ["subnet-0a"]},
        )
        moto_eks.eks_backend("us-east-1").created_before_start("prod")
        with pytest.raises(ClientError) as raised:
            eks.update_cluster_version(name="prod", version="1.99")
    response = raised.value.response
    assert response["Error"] == {
        "Code": "InvalidParameterException",
        "Message": "unsupported Kubernetes version",
    }
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response.get("clusterName") == "prod"  # the resource names AWS returns beside it
    # The constructor our helpers call: a message and the resource names as keywords.
    error = InvalidParameterException(message="no", clusterName="prod")
    assert (error.code, error.message, error.clusterName) == (
        "InvalidParameterException",
        "no",
        "prod",
    )


def test_ssm_and_ec2_internals_the_seeding_writes_to() -> None:
    from moto.ec2.models.amis import Ami
    from moto.ssm.models import Parameter, SimpleSystemManagerBackend

    assert "self._parameters" in inspect.getsource(SimpleSystemManagerBackend.__init__)
    assert {"name", "value", "data_type", "version"} <= set(
        inspect.signature(Parameter.__init__).parameters
    )
    assert {"architecture", "owner_id", "public", "region_name"} <= set(
        inspect.signature(Ami.__init__).parameters
    )
