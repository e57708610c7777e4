"""Schemathesis hooks for ``test_openapi_conformance``: sign the control calls.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS=tests.proof.schemathesis_hooks``.
Every ``POST /v1/control/*`` is signed as the operator's tools sign it (SPEC §3), with the
credentials in ``VVTV_CONTROL_TOKEN``/``VVTV_CONTROL_SECRET`` and a fresh ``x-vvtv-nonce``, so
a case schemathesis repeats within a second is not refused as a replay. The signature is
computed in a ``requests`` auth hook, over the exact bytes requests is about to send.
"""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st

from vvtv.core.signing import new_nonce, signed_headers
from vvtv.web.control import CONTROL_PREFIX


class Signed(requests.auth.AuthBase):
    def __init__(self, token: str, secret: str) -> None:
        self.token = token
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = (request.path_url or "/").split("?", 1)[0]
        if request.method == "POST" and path.startswith(CONTROL_PREFIX):
            body = request.body or b""
            raw = body.encode() if isinstance(body, str) else body
            request.headers.update(
                signed_headers(
                    self.token, self.secret, "POST", path, raw, time.time(), nonce=new_nonce()
                )
            )
        return request


SIGNED = Signed(os.environ["VVTV_CONTROL_TOKEN"], os.environ["VVTV_CONTROL_SECRET"])


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    kwargs["auth"] = SIGNED


# ``format: iso-week`` (/v1/reports/weekly): the document's pattern cannot say which years
# have a week 53; the values schemathesis sends as valid are real weeks.
schemathesis.openapi.format(
    "iso-week",
    # 9999-W52 ends in year 10000: a documented 400 ("invalid iso week"), not a real week here.
    st.dates(max_value=date(9999, 12, 26)).map(
        lambda d: "{:04d}-W{:02d}".format(*d.isocalendar()[:2])
    ),
)
