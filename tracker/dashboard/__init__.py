"""The web dashboard: server-rendered pages over the same selectors as the API, small scripts
that keep them live over the records stream, and the stream's per-process hub."""
