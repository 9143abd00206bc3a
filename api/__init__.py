"""GraphQL schema, resolvers, auth and the ASGI app: translation to and from the use cases."""
