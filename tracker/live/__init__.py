"""The live stream's plumbing: each process's hub of recent ticks (`ticks.py`) and how it is fed,
in process or through Redis pub/sub (`relay.py`). Below the pages and the API: the API's
`GET /api/v1/stream` reads the hub, the dashboard's scripts read that stream."""
