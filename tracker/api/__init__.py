"""The REST API, version 1: views and serializers that parse, call selectors and render."""
