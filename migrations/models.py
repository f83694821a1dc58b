"""Every model module, imported so that their tables are on ``Base.metadata``: one list for alembic and the tests."""

import documents.circulation.calendar
import documents.circulation.model
import documents.records  # noqa: F401
import esign.anchors
import esign.audit
import esign.idempotency
import esign.outbox  # noqa: F401
import keys.authorities
import keys.credentials
import keys.csc.activation
import keys.custody
import keys.identities
import keys.passwords
import keys.sessions
import keys.tokens  # noqa: F401
import webhooks  # noqa: F401
