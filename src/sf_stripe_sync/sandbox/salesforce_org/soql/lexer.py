"""Split SOQL text into tokens.

Theory of operation: a single left-to-right scan. Date and datetime literals are
recognised before numbers (``2027-01-01`` is one DATE token, ``2027-01-01T00:00:00Z`` one
DATETIME token); a ``-`` directly before a digit starts a negative number (SOQL has no
subtraction). String literals keep both their decoded value and their raw text, because
LIKE needs to know which ``%`` and ``_`` were escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sf_stripe_sync.sandbox.salesforce_org.soql.ast import malformed

_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT", ":": "COLON"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"',
            "\\": "\\", "%": "%", "_": "_"}


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT STRING NUMBER DATE DATETIME OP LPAREN RPAREN COMMA DOT COLON EOF
    text: str
    pos: int
    raw: str = ""

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.text.upper() in words


def _read_string(source: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    pos = start + 1
    while pos < len(source):
        char = source[pos]
        if char == "\\":
            if pos + 1 >= len(source) or source[pos + 1] not in _ESCAPES:
                raise malformed(f"Invalid string literal escape at column {pos + 1}")
            chars.append(_ESCAPES[source[pos + 1]])
            pos += 2
            continue
        if char == "'":
            return Token("STRING", "".join(chars), start, source[start + 1 : pos]), pos + 1
        chars.append(char)
        pos += 1
    raise malformed(f"unterminated string literal starting at column {start + 1}")


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char.isspace():
            pos += 1
            continue
        if char == "'":
            token, pos = _read_string(source, pos)
            tokens.append(token)
            continue
        for kind, pattern in (("DATETIME", _DATETIME), ("DATE", _DATE), ("NUMBER", _NUMBER)):
            match = pattern.match(source, pos)
            if match and (kind != "NUMBER" or char.isdigit() or char == "-"):
                tokens.append(Token(kind, match.group(), pos))
                pos = match.end()
                break
        else:
            match = _IDENT.match(source, pos)
            if match:
                tokens.append(Token("IDENT", match.group(), pos))
                pos = match.end()
                continue
            operator = next((op for op in _OPERATORS if source.startswith(op, pos)), None)
            if operator is not None:
                tokens.append(Token("OP", "!=" if operator == "<>" else operator, pos))
                pos += len(operator)
                continue
            if char in _PUNCTUATION:
                tokens.append(Token(_PUNCTUATION[char], char, pos))
                pos += 1
                continue
            raise malformed(f"unexpected character {char!r} at column {pos + 1}")
    tokens.append(Token("EOF", "", len(source)))
    return tokens
