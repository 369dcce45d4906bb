"""Assembles a process: the embedded scheduler and, optionally, the API server in one loop;
the housekeeping jobs. The only package that knows all the others; nothing imports it."""
