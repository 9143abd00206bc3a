"""The service layer: one function per use case, called alike by GraphQL, the CLI and jobs."""
