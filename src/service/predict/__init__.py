"""POST /predict: parse the request (`request`), transcribe and store it (`run`)."""
