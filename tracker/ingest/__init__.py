"""Getting data in: the poll as a service, its retry policy and the embedded scheduler."""
