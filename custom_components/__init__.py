"""Custom integrations (namespace for tests and type checking)."""
