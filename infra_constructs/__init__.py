"""Reusable cdktf constructs of the Audio Inference API.

The design card calls this folder "constructs/"; a top-level package of that
name would shadow the `constructs` library cdktf itself imports, hence the name.
Each construct takes one frozen, keyword-only props dataclass.
"""
