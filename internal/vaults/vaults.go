// Package vaults serves the hub's vault-instance endpoints (reference
// admin-vaults.ts and admin-vault-admin-token.ts at 3acd645):
//
//   - POST /vaults {"name": N} creates another vault instance
//     (`parachute-vault create N --json` through the installer, then a
//     restart of vault through the supervisor) and answers 201 with its
//     URL, or 200 when it exists already;
//   - GET /admin/vault-admin-token/<name> mints the short-lived
//     vault:<name>:admin token the vault's admin UI calls vault with.
//
// The hub authenticates the caller and routes here; this package checks
// the request, calls the module operations and writes the answer. It never
// prints.
package vaults

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modops"
)

// AdminTokenTTL is the lifetime of a vault admin token. The vault UI asks
// for a new one when it nears expiry, so a leaked one is short-lived.
const AdminTokenTTL = 5 * time.Minute

// adminClientNote names, in the log line of a mint, who asks for vault
// admin tokens.
const adminClientNote = "vault admin UI"

// codeServerError is the reference's error code for a failed
// orchestration (admin-vaults.ts).
const codeServerError api.ErrorCode = "server_error"

// Ops is what the handlers need of the module operations; modops.Manager
// implements it.
type Ops interface {
	// CreateVault adds a vault instance (install.Installer.CreateVault).
	CreateVault(name string, logf func(string)) (*install.VaultCreated, error)
	// Install starts a background install and returns its operation id.
	Install(short string, b api.InstallBody) (string, error)
}

// Handler serves the vault endpoints. Every field is required.
type Handler struct {
	Ops Ops
	// Auth is the token store (nil while the hub is still loading keys).
	Auth func() *auth.Store
	// Issuer is the hub's canonical issuer: URLs in answers and the iss
	// of minted tokens.
	Issuer func() string
	// Rows are the routable services.json rows.
	Rows func() []manifest.Service
	Log  *slog.Logger
}

// createBody is POST /vaults's request.
type createBody struct {
	Name *string `json:"name"`
}

// Entry is a vault in POST /vaults's answers: the discovery document's
// vaults[] entry, plus what only a creation tells.
type Entry struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Version string `json:"version"`
	// Token is the access token vault minted at creation ("" when it could
	// not; TokenGuidance says why). Never in a 200.
	Token         *string             `json:"token,omitempty"`
	TokenGuidance string              `json:"token_guidance,omitempty"`
	Paths         *install.VaultPaths `json:"paths,omitempty"`
	// Warning says the vault was created but vault did not restart.
	Warning string `json:"warning,omitempty"`
	// OperationID is set (with a 202) when vault was not installed and
	// POST /vaults started installing it with this vault as its first.
	OperationID string `json:"operation_id,omitempty"`
}

// Create is POST /vaults; the caller has checked a parachute:host:admin
// bearer.
func (h *Handler) Create(w http.ResponseWriter, r *http.Request) error {
	name, aerr := decodeCreate(w, r)
	if aerr != nil {
		return aerr
	}
	if v, ok := h.instance(name); ok {
		writeJSON(w, http.StatusOK, h.entry(v.Name, v.Path, v.Row.Version))
		return nil
	}
	var lines []string
	res, err := h.Ops.CreateVault(name, func(l string) { lines = append(lines, l) })
	var se *install.StartError
	switch {
	case errors.Is(err, install.ErrNotInstalled):
		return h.installFirst(w, name)
	case errors.Is(err, modops.ErrShuttingDown):
		w.Header().Set("Retry-After", "5")
		return api.Errorf(http.StatusServiceUnavailable, api.CodeShuttingDown, "the hub is shutting down; retry once it is back")
	case errors.As(err, &se) && res != nil:
		// The instance exists; only the restart failed. Say both.
	case err != nil:
		return api.Errorf(http.StatusInternalServerError, codeServerError, "%v", err)
	}
	e := h.entry(res.Name, res.Path, res.Version)
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
		tok := res.Token
		e.Token, e.TokenGuidance, e.Paths = &tok, res.TokenGuidance, res.Paths
	}
	if se != nil {
		e.Warning = se.Error() + " — run `parachute logs vault`, then `parachute restart vault`"
	}
	writeJSON(w, status, e)
	return nil
}

// installFirst answers POST /vaults on a hub without vault: it starts
// installing vault with this name for its first vault (the reference ran
// `parachute install vault` inline) and answers 202 with the operation to
// poll at /api/modules/operations/<id>.
func (h *Handler) installFirst(w http.ResponseWriter, name string) error {
	id, err := h.Ops.Install("vault", api.InstallBody{VaultName: name})
	if errors.Is(err, modops.ErrShuttingDown) {
		w.Header().Set("Retry-After", "5")
		return api.Errorf(http.StatusServiceUnavailable, api.CodeShuttingDown, "the hub is shutting down; retry once it is back")
	}
	if err != nil {
		return api.Errorf(http.StatusInternalServerError, codeServerError, "installing vault: %v", err)
	}
	e := h.entry(name, "/vault/"+name, "")
	e.OperationID = id
	writeJSON(w, http.StatusAccepted, e)
	return nil
}

// decodeCreate reads and checks POST /vaults's body.
func decodeCreate(w http.ResponseWriter, r *http.Request) (string, *api.Error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "", api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "Content-Type must be application/json")
	}
	var b createBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	if err := dec.Decode(&b); err != nil {
		return "", api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "invalid JSON body: %v", err)
	}
	if b.Name == nil || *b.Name == "" {
		return "", api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, `"name" must be a non-empty string`)
	}
	if why := manifest.CheckVaultName(*b.Name); why != "" {
		return "", api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "%s", why)
	}
	return *b.Name, nil
}

// instance finds the vault instance name among the routable rows.
func (h *Handler) instance(name string) (manifest.VaultInstance, bool) {
	for _, v := range manifest.VaultInstances(h.Rows()) {
		if v.Name == name {
			return v, true
		}
	}
	return manifest.VaultInstance{}, false
}

func (h *Handler) entry(name, path, version string) Entry {
	return Entry{Name: name, URL: strings.TrimRight(h.Issuer(), "/") + path, Version: version}
}

// AdminTokenResponse is GET /admin/vault-admin-token/<name>'s answer.
type AdminTokenResponse struct {
	Token     string   `json:"token"`
	ExpiresAt string   `json:"expires_at"`
	Scopes    []string `json:"scopes"`
}

// AdminToken is GET /admin/vault-admin-token/<name>; the caller has
// authenticated the hub's admin as subject. The token carries
// vault:<name>:admin with audience vault.<name> (what vault checks its
// bearer's aud against) and the vault_scope pin [name]; it is ephemeral
// (not in the token registry, like the reference's), so it lives only
// AdminTokenTTL.
func (h *Handler) AdminToken(w http.ResponseWriter, r *http.Request, name, subject string) error {
	if why := manifest.CheckVaultName(name); why != "" {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "vault name %q is not a valid identifier: %s", name, why)
	}
	if _, ok := h.instance(name); !ok {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no vault named %q in this hub (POST /vaults creates one)", name)
	}
	store := h.Auth()
	if store == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting (loading its signing keys); retry in a moment")
	}
	scope := "vault:" + name + ":admin"
	tok, c, err := store.MintToken(r.Context(), auth.MintRequest{
		Issuer: h.Issuer(), Subject: subject, Scopes: []string{scope}, Audience: "vault." + name,
		TTL: AdminTokenTTL, VaultScope: []string{name}, Ephemeral: true,
	})
	if err != nil {
		return fmt.Errorf("minting the %s admin token: %w", name, err)
	}
	h.Log.Info("minted a vault admin token", "vault", name, "sub", subject, "jti", c.JTI, "for", adminClientNote)
	writeJSON(w, http.StatusOK, AdminTokenResponse{Token: tok, ExpiresAt: hubdb.FormatTime(c.Expiry()), Scopes: []string{scope}})
	return nil
}

// writeJSON writes v compactly (the reference's bytes). Never cached: a
// created vault's answer and an admin token answer carry a token.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
