"""`make serve` without an AWS account: the real handlers behind an emulation of API Gateway, over an
embedded moto, with the jobs pipeline (queue, notifications, event source) played locally.

It depends on the service; the service never imports it, and the Lambda image never carries it
(an import-linter contract and the image tier check both).
"""
