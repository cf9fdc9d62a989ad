"""Where each kind of request keeps its objects, under the input and output prefixes.

The stacks grant each function exactly these prefixes; the service builds its keys from them.
"""

from __future__ import annotations

SYNC_KEYS = "predict/"
JOB_KEYS = "jobs/"
JOB_LEDGERS = "_keys/"
"""Under JOB_KEYS: one document per API key id, its jobs in flight and its day's audio (`service.jobs.quotas`)."""
KEY_CONSUMERS = "_consumers/"
"""Under JOB_KEYS: one document per API key id naming its consumer (`make keys` writes it)."""


def key_consumer_document(output_prefix: str, key_id: str) -> str:
    """Where `make keys` names a key's consumer (the service reads its job limits by it)."""
    return f"{output_prefix}{JOB_KEYS}{KEY_CONSUMERS}{key_id}"


JOB_RESULT_STEM = "result"
"""A job's results beside its status document: `<stem>.json`, and `<stem>.mid` for a model with MIDI."""
JOB_STATUS_DOCUMENT = "status.json"
"""A job's status document, beside its results (the API function may write only these under JOB_KEYS)."""
