"""In-memory stand-ins for the engine's ports, shipped for tests (the engine's and yours).

Theory of operation (httpx's ``MockTransport``, Meltano's shipped tap tests): the engine
talks only through ``sf_stripe_sync.ports``; these fakes implement those Protocols in
memory, small but faithful to the rules the engine relies on (idempotency keys replayed,
schedule phases and metadata, per-record write results, the project's own errors), so an
engine test runs in milliseconds with no server. ``tests/conformance`` holds them to the
real adapters on the local sandboxes, and the in-memory store to SQLite and PostgreSQL.
"""

from sf_stripe_sync.testing.billing import FakeBillingGateway
from sf_stripe_sync.testing.salesforce import FakeOrg
from sf_stripe_sync.testing.state import MemoryStateStore

__all__ = ["FakeBillingGateway", "FakeOrg", "MemoryStateStore"]
