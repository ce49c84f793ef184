"""Imports every feature's tables so the metadata (and Alembic) sees the whole schema."""

from __future__ import annotations

from sqlalchemy import MetaData

from shaobing.core.models import Base


def load_all_models() -> MetaData:
    """Import every model module and return the complete metadata."""
    # Imported for their side effect of registering tables on Base.metadata.
    from shaobing.assess.datasec import models as _datasec  # noqa: F401
    from shaobing.assess.mlps import models as _mlps  # noqa: F401
    from shaobing.assess.risk import models as _risk  # noqa: F401
    from shaobing.assets import models as _assets  # noqa: F401
    from shaobing.auth import models as _auth  # noqa: F401
    from shaobing.baseline import models as _baseline  # noqa: F401
    from shaobing.core import audit as _audit  # noqa: F401
    from shaobing.credentials import models as _credentials  # noqa: F401
    from shaobing.engagements import models as _engagements  # noqa: F401
    from shaobing.findings import models as _findings  # noqa: F401
    from shaobing.reports import models as _reports  # noqa: F401
    from shaobing.scan import models as _scan  # noqa: F401
    from shaobing.vulndb import models as _vulndb  # noqa: F401

    return Base.metadata
