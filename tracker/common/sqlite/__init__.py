"""Django's SQLite backend, with persistent connections that notice their file went away."""
