from __future__ import annotations

import json
from typing import Any

from django.test import Client

from ..factories import make_bundle, make_run

__all__ = ["make_bundle", "make_run", "post_json"]


def post_json(client: Client, doc: Any, **extra: Any) -> Any:
    return client.post(
        "/api/v1/submissions", data=json.dumps(doc), content_type="application/json", **extra
    )
