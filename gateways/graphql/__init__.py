"""The GraphQL gateway (Tartiflette on Sanic); see docs/graphql.md."""
