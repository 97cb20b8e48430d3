"""Imports every domain's models so that Base.metadata knows every table (Alembic's environment, tests).

A domain with its own models module adds one import line here.
"""

from omnidesk.db import models  # noqa: F401
from omnidesk.cbc import models as cbc_models  # noqa: F401
from omnidesk.inventory import models as inventory_models  # noqa: F401
from omnidesk.catalog import models as catalog_models  # noqa: F401
from omnidesk.auth import models as auth_models  # noqa: F401
from omnidesk.billing import models as billing_models  # noqa: F401
from omnidesk.rating import models as rating_models  # noqa: F401
from omnidesk.provisioning import models as provisioning_models  # noqa: F401
from omnidesk.broadcast import models as broadcast_models  # noqa: F401
