# The whole set-up is `make run` and `make test`; every other target is a step of those.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(wildcard protos/plinth/v1/*.proto)
GENERATED := clients/python/plinth/v1/.generated

.PHONY: install protos clients run test lint bench clean

install: $(STAMP) $(GENERATED)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

protos: $(STAMP)
	rm -f $(GENERATED)
	$(MAKE) $(GENERATED)

# grpcio-tools writes plinth/v1/*_pb2*.py; the package marker makes them importable.
$(GENERATED): $(PROTOS) $(STAMP)
	mkdir -p clients/python/plinth/v1
	rm -f clients/python/plinth/v1/*_pb2*.py clients/python/plinth/v1/*_pb2*.pyi
	$(BIN)/python -m grpc_tools.protoc -I protos \
		--python_out=clients/python --pyi_out=clients/python --grpc_python_out=clients/python $(PROTOS)
	touch clients/python/plinth/v1/__init__.py $@

# TypeScript and Go stubs per buf.gen.yaml into gitignored folders (docs/clients.md);
# the Go plugins must be on PATH.
clients:
	cd clients/typescript && npm ci --no-audit --no-fund --prefer-offline
	clients/typescript/node_modules/.bin/buf generate

run: install
	$(BIN)/plinth up

test: install
	$(BIN)/python -m pytest

lint: install
	npx --yes @bufbuild/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m bench.crud

clean:
	rm -rf $(VENV) clients/python/plinth/v1 .pytest_cache
