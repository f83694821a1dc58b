"""Every model module, imported so that their tables are on ``Base.metadata``: one list for alembic and the tests."""

import documents.circulation.calendar  # noqa: F401
import documents.circulation.model  # noqa: F401
import documents.records  # noqa: F401
import esign.audit  # noqa: F401
import esign.idempotency  # noqa: F401
import esign.outbox  # noqa: F401
import keys.authorities  # noqa: F401
import keys.credentials  # noqa: F401
import keys.csc.activation  # noqa: F401
import keys.custody  # noqa: F401
import keys.identities  # noqa: F401
import keys.tokens  # noqa: F401
import webhooks  # noqa: F401
