# Osprey — the usual targets. `make run` starts Osprey; `make test` runs every test.
GO        ?= go
BIN       ?= bin/osprey
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/osprey-aiops/osprey/internal/buildinfo.Version=$(VERSION)
FUZZTIME  ?= 1m

.PHONY: all build run test test-short vet fmt lint bench fuzz clean

all: lint test build

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/osprey

run:
	$(GO) run ./cmd/osprey serve

# The whole suite: unit, conformance (SQLite and PostgreSQL), end-to-end.
test:
	$(GO) test ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Every fuzz target in the module, FUZZTIME each.
fuzz:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  dir=$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "== $$dir $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$dir || exit 1; \
	  done; \
	done

clean:
	rm -rf bin osprey-data
