"""The loyalty program's business rules, in plain Python: no web, no database."""
