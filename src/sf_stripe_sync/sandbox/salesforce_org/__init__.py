"""A local Salesforce org that serves the REST API from an org snapshot.

Tests, demos and rehearsals drive it through the unchanged ``simple-salesforce``
library. The org serves plain HTTP on loopback; simple-salesforce insists on
``https://`` URLs, so the org hands out a ``requests.Session`` (``requests_session()``)
whose transport adapter rewrites ``https://127.0.0.1:<port>`` (and the login hosts
``https://*.salesforce.com``) to the org's ``http://`` address. No certificate is
generated and nothing leaves loopback. Use it like this::

    with LocalOrg(snapshot).running() as org:
        sf = Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                        session=org.requests_session())

With ``LocalOrg(snapshot, tls=True)`` (``sandbox salesforce --tls``) the org serves real
HTTPS instead, with a certificate from a certificate authority made on the spot
(``tls``); a client trusts ``org.ca_path`` (``session.verify = org.ca_path``) exactly as
it would trust a real org's chain. Ids are held to Salesforce's rules (``ids``): 15 or
18 characters with the case-checksum suffix, ``MALFORMED_ID`` otherwise.

Username/password (SOAP ``/services/Soap/u/<v>``) and OAuth (``/services/oauth2/token``:
password, client_credentials, jwt-bearer) logins are served too, so every auth mode
simple-salesforce has can be exercised.

Modules: ``describe`` (schema), ``ids``, ``tls``, ``store`` (records, ids, audit stamps), ``soql``
(lexer, parser, evaluator), ``writes`` (inserts/updates/collections), ``pages``
(query cursors), ``faults``, ``auth``, ``rest`` (routing), ``composite`` (``composite``
and ``composite/batch``: many subrequests, one API call), ``transport``, ``org``
(``LocalOrg``), ``server`` (HTTP) and ``cli`` (the ``sandbox salesforce`` command).
"""

from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults
from sf_stripe_sync.sandbox.salesforce_org.org import LocalOrg, load_snapshot

__all__ = ["LocalOrg", "OrgFaults", "load_snapshot"]
