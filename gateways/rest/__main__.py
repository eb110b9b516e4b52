"""`python -m gateways.rest`: serve the REST gateway on PLINTH_REST_ADDR."""

from core.config import Settings
from core.logs import configure
from gateways.rest.app import create_app
from gateways.serve import serve


def main() -> None:
    configure("rest")
    settings = Settings.from_env()
    serve(create_app(settings), settings.rest_addr)


if __name__ == "__main__":
    main()
