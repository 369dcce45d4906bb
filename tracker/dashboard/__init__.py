"""The web dashboard: server-rendered pages over the same selectors as the API, and small
scripts that keep them live over the records stream."""
