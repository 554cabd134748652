"""A SOQL subset, really parsed and evaluated: lexer -> parser (AST) -> evaluator."""

from sf_stripe_sync.sandbox.salesforce_org.soql.ast import SoqlError
from sf_stripe_sync.sandbox.salesforce_org.soql.parser import parse_soql

__all__ = ["SoqlError", "parse_soql"]
