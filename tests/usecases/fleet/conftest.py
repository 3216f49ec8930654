"""Shared fixtures of the fleet tests."""

from tests.usecases.fleet.argo_double import argo

__all__ = ["argo"]
