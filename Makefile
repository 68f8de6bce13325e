# Entry points for humans and CI. `make dist` builds every release artifact
# into dist/ (see internal/release); the rest are conveniences.
GO ?= go

.PHONY: all build test dist nix-hash generate check-generated clean

all: build

## build: the parachute binary for this machine, in bin/
build:
	$(GO) build -trimpath -tags urfave_cli_no_docs -o bin/parachute ./cmd/parachute

## test: every package's tests (the README's and CI's command)
test:
	$(GO) test -count=1 -timeout 45m ./...

## dist: binaries, tarballs, deb, rpm, OCI image, Homebrew formula and SHA256SUMS in dist/
dist:
	$(GO) run ./cmd/parachute-dist dist -out dist

## nix-hash: rewrite flake.nix's vendorHash after a go.mod change
nix-hash:
	$(GO) run ./cmd/parachute-dist vendor-hash -update

## generate: regenerate the checked-in unit files (packaging/systemd, packaging/launchd, packaging/nix)
generate:
	$(GO) generate ./internal/unit ./internal/release

clean:
	rm -rf dist bin
