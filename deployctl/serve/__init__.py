"""Talking to a running engine over HTTP: wait until it is healthy (`health`), then smoke-test it (`smoke`)."""
