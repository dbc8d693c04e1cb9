"""End-to-end tests: a real Home Assistant process (the current release) driven over its APIs."""
