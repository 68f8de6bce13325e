package vaults

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modops"
)

// ops answers CreateVault and Install with what a case sets. The real
// operations run in internal/install (TestVaultInitAfterInstall) and
// end to end (internal/e2e TestVaultInstances); these cases are the
// answers to their outcomes that a real vault cannot easily produce.
type ops struct {
	created    *install.VaultCreated
	createErr  error
	installID  string
	installErr error
	installed  []api.InstallBody
}

func (o *ops) CreateVault(name string, logf func(string)) (*install.VaultCreated, error) {
	return o.created, o.createErr
}

func (o *ops) Install(short string, b api.InstallBody) (string, error) {
	if short != "vault" {
		return "", fmt.Errorf("installing %s, want vault", short)
	}
	o.installed = append(o.installed, b)
	return o.installID, o.installErr
}

func TestCreateOutcomes(t *testing.T) {
	tok := ""
	for _, tc := range []struct {
		name   string
		ops    ops
		status int
		body   string
	}{
		{name: "created", ops: ops{created: &install.VaultCreated{Name: "w", Path: "/vault/w", Version: "1.0.0", Created: true,
			Token: tok, TokenGuidance: "no origin", Paths: &install.VaultPaths{VaultDir: "/d"}}},
			status: 201, body: `{"name":"w","url":"https://hub.test/vault/w","version":"1.0.0","token":"","token_guidance":"no origin","paths":{"vault_dir":"/d","vault_db":"","vault_config":""}}`},
		{name: "created, restart failed", ops: ops{created: &install.VaultCreated{Name: "w", Path: "/vault/w", Version: "1.0.0", Created: true,
			Paths: &install.VaultPaths{}}, createErr: &install.StartError{Short: "vault", Err: errors.New("port in use")}},
			status: 201, body: `"warning":"vault is installed but did not start: port in use — run ` + "`parachute logs vault`"},
		{name: "raced: it exists now", ops: ops{created: &install.VaultCreated{Name: "w", Path: "/vault/w", Version: "1.0.0"}},
			status: 200, body: `{"name":"w","url":"https://hub.test/vault/w","version":"1.0.0"}`},
		{name: "vault not installed: install it with this vault first", ops: ops{createErr: fmt.Errorf("vault: %w", install.ErrNotInstalled), installID: "op-1"},
			status: 202, body: `{"name":"w","url":"https://hub.test/vault/w","version":"","operation_id":"op-1"}`},
		{name: "shutting down", ops: ops{createErr: modops.ErrShuttingDown}, status: 503, body: `shutting_down`},
		{name: "create failed", ops: ops{createErr: &install.CmdError{Cmd: install.Cmd{Name: "parachute-vault create w --json"}, Code: 1}},
			status: 500, body: `{"error":"server_error","error_description":"parachute-vault create w --json exited 1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Ops: &tc.ops, Issuer: func() string { return "https://hub.test/" },
				Rows: func() []manifest.Service { return nil }, Log: slog.New(slog.DiscardHandler)}
			r := httptest.NewRequest("POST", "/vaults", strings.NewReader(`{"name":"w"}`))
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			w := httptest.NewRecorder()
			err := h.Create(w, r)
			if err == nil && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store: the answer may carry a token", w.Header().Get("Cache-Control"))
			}
			if err != nil {
				ae, ok := err.(*api.Error)
				if !ok {
					t.Fatalf("Create returned %v, not an *api.Error", err)
				}
				w.WriteHeader(ae.Status)
				fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, ae.Code, ae.Description)
			}
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("= %d %s, want %d containing %s", w.Code, w.Body, tc.status, tc.body)
			}
			if tc.status == http.StatusAccepted && (len(tc.ops.installed) != 1 || tc.ops.installed[0].VaultName != "w") {
				t.Errorf("installs started: %+v", tc.ops.installed)
			}
		})
	}
}
