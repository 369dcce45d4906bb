"""Getting data in: the poll as a service, its retry policy, delisting and pair services."""
