package install

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openparachute/parachute/internal/manifest"
)

// CreateVaultTimeout bounds `parachute-vault create` (it creates a
// directory, a database and a config file).
const CreateVaultTimeout = time.Minute

// VaultPaths is where vault keeps a vault instance, as
// `parachute-vault create --json` reports it.
type VaultPaths struct {
	VaultDir    string `json:"vault_dir"`
	VaultDB     string `json:"vault_db"`
	VaultConfig string `json:"vault_config"`
}

// VaultCreated is the outcome of CreateVault.
type VaultCreated struct {
	// Name is the instance; Path its mount ("/vault/<name>"); Version the
	// vault row's version.
	Name, Path, Version string
	// Created is false when the instance already existed (nothing ran).
	Created bool
	// Token is the access token vault minted for the new instance (it may
	// be empty; TokenGuidance then says why). Only set when Created.
	Token, TokenGuidance string
	// Paths is where vault keeps it; nil unless Created.
	Paths *VaultPaths
}

// vaultCreateJSON is the stdout of `parachute-vault create <name> --json`
// (vault's cmdCreate).
type vaultCreateJSON struct {
	Name          string      `json:"name"`
	Token         *string     `json:"token"`
	TokenGuidance string      `json:"token_guidance"`
	Paths         *VaultPaths `json:"paths"`
}

// CreateVault adds the vault instance name to the installed vault module,
// the way the reference's POST /vaults does: `parachute-vault create
// <name> --json`, run like the init step (the module's environment,
// output to the Reporter, bounded time), which creates the vault and adds
// its mount to the parachute-vault row. The hub's fields of the row are
// kept, and vault is (re)started through the Runtime, because one vault
// process serves every instance and reads them when it starts. An
// instance that exists already is returned with Created false. The name
// must pass manifest.CheckVaultName. It fails with ErrNotInstalled when
// vault is not installed.
func (in *Installer) CreateVault(ctx context.Context, name string) (*VaultCreated, error) {
	if why := manifest.CheckVaultName(name); why != "" {
		return nil, fmt.Errorf("creating vault %q: %s", name, why)
	}
	unlock, err := in.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := in.recoverInterrupted(); err != nil {
		return nil, err
	}
	if got, err := in.findVault(name); err != nil || got != nil {
		return got, err
	}
	row, err := in.findRow("vault")
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("vault: %w — install it first: parachute install vault --vault-name %s", ErrNotInstalled, name)
	}
	pl := placement{dir: row.InstallDir}
	if pm, ok := in.owner(ctx, row.InstallDir); ok {
		pl.pm = &pm
	}
	out, err := in.runModuleCmd(ctx, pl, "vault", []string{"parachute-vault", "create", name, "--json"}, CreateVaultTimeout, true)
	if err != nil {
		return nil, err
	}
	cj, err := parseVaultCreate(out)
	if err != nil {
		return nil, err
	}
	if err := in.keepHubFields(*row); err != nil {
		return nil, err
	}
	got, err := in.findVault(name)
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("vault %q was created but is not in %s; run `parachute-vault init` to re-register every vault, then restart vault",
			name, in.paths.ServicesJSON())
	}
	got.Created, got.Paths, got.TokenGuidance = true, cj.Paths, cj.TokenGuidance
	if cj.Token != nil {
		got.Token = *cj.Token
	}
	if in.rt != nil {
		end := in.rep.Begin("restarting vault so it serves " + name)
		err := in.rt.Start(ctx, "vault")
		end(err)
		if err != nil {
			return got, &StartError{Short: "vault", Err: err}
		}
	}
	return got, nil
}

// findVault is the instance name as services.json lists it, or nil.
func (in *Installer) findVault(name string) (*VaultCreated, error) {
	f, err := manifest.Load(in.paths.ServicesJSON())
	if err != nil {
		return nil, err
	}
	for _, v := range manifest.VaultInstances(f.Services) {
		if v.Name == name {
			return &VaultCreated{Name: name, Path: v.Path, Version: v.Row.Version}, nil
		}
	}
	return nil, nil
}

// parseVaultCreate reads the JSON object `parachute-vault create --json`
// prints (its last line: a vault may print notices before it).
func parseVaultCreate(out []byte) (*vaultCreateJSON, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var cj vaultCreateJSON
	if err := json.Unmarshal(lines[len(lines)-1], &cj); err != nil {
		return nil, fmt.Errorf("parachute-vault create --json printed no JSON object (%w); is the installed vault older than 0.3?", err)
	}
	if cj.Name == "" || cj.Token == nil || cj.Paths == nil {
		return nil, fmt.Errorf("parachute-vault create --json left out name, token or paths")
	}
	return &cj, nil
}
