"""Fixtures every test directory may use: the state store on both backends."""

from tests.backends import pg_spec, store_spec

__all__ = ["pg_spec", "store_spec"]
