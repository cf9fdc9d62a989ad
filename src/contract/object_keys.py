"""Where each kind of request keeps its objects, under the input and output prefixes.

The stacks grant each function exactly these prefixes; the service builds its keys from them.
"""

from __future__ import annotations

SYNC_KEYS = "predict/"
JOB_KEYS = "jobs/"
JOB_STATUS_DOCUMENT = "status.json"
"""A job's status document, beside its results (the API function may write only these under JOB_KEYS)."""
