"""Tortoise models, versioned migrations and the repositories behind the use cases."""
