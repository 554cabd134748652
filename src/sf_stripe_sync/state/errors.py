"""Errors the state store raises on purpose, as members of the project's exception tree.

Theory of operation: the store meets three kinds of trouble.

* Lock contention that outlasted the busy timeout (another process held the write
  lock for too long): ``StateStoreBusy``, a ``TransientError``, so retry policies see it.
* A caller breaking the store's rules (an illegal journal transition, a naive datetime,
  an unknown run, an unknown id kind): ``StateUsageError``, a ``TerminalError``. These
  are bugs in the caller, not problems in the data, and are never retried.
* The database server cannot be reached (PostgreSQL down, connection lost):
  ``StateStoreUnavailable``, transient too.
* The database itself is unusable (corrupt, unreadable, not a database): ``StateStoreError``.

A schema newer than this code understands is the operator's problem (they ran an older
release against a newer store) and is reported as ``sf_stripe_sync.errors.ConfigError``.
"""

from __future__ import annotations

from sf_stripe_sync.errors import TerminalError, TransientError


class StateStoreBusy(TransientError):
    """The store stayed locked by another writer past the busy timeout."""


class StateStoreUnavailable(TransientError):
    """The shared (PostgreSQL) store could not be reached; a later attempt may succeed."""


class StateStoreError(TerminalError):
    """The state database cannot be read or written (corrupt, unreadable, wrong file)."""


class StateUsageError(TerminalError):
    """The store was called in a way its contract forbids: a bug in the caller."""


class IllegalTransition(StateUsageError):
    """A journal entry was asked to move along an edge its state machine does not have."""
