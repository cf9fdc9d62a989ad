"""The operator's package: what `make bootstrap/deploy/diff/rollback/destroy` run (docs/operations.md)."""
