"""HTTP plumbing every route shares: the error types and how answers and request bodies are framed."""
