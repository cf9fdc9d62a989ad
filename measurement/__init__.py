"""Measurement tools behind `make bench`, `make evaluate` and `make parity`; nothing of the product imports them."""
