"""Where each kind of request keeps its objects, under the input and output prefixes.

The stacks grant each function exactly these prefixes; the service builds its keys from them.
"""

from __future__ import annotations

SYNC_KEYS = "predict/"
JOB_KEYS = "jobs/"
