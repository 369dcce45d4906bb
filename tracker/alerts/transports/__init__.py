"""One transport per channel kind, found through `registry.TRANSPORTS`."""
