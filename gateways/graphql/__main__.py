"""`python -m gateways.graphql` (or `plinth graphql`): serve the GraphQL gateway on
PLINTH_GRAPHQL_ADDR."""

from core.config import Settings
from core.logs import configure
from gateways.graphql.app import create_app
from gateways.serve import serve


def main() -> None:
    configure("graphql")
    settings = Settings.from_env()
    serve(create_app(settings), settings.graphql_addr)


if __name__ == "__main__":
    main()
