"""Command line: `python -m inference transcribe FILE` and `python -m inference fetch-model`."""

from inference.cli import main

raise SystemExit(main())
