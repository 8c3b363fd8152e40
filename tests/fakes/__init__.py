"""In-memory fakes of the ports: the use cases at unit speed."""
