package hub

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestModulesChannel is the channel toggle as a sequence: the reference's
// PUT contract (host:admin, {channel} → {channel}, 400 invalid_channel),
// our GET, GET /api/modules reporting the stored value, the environment
// winning over it as in the reference, and an install request that names
// no channel using the stored one.
func TestModulesChannel(t *testing.T) {
	t.Setenv("PARACHUTE_INSTALL_CHANNEL", "")
	t.Setenv("PARACHUTE_MODULE_CHANNEL", "")
	h := newRouterHub(t)
	type view struct {
		Channel          string `json:"channel"`
		EffectiveChannel string `json:"effective_channel"`
		Source           string `json:"source"`
		Warning          string `json:"warning"`
	}
	catalog := func(t *testing.T) string {
		w := h.do(get("/api/modules", authOnly))
		var b struct {
			Channel string `json:"module_install_channel"`
		}
		decodeBody(t, w.Body.Bytes(), &b)
		return b.Channel
	}
	steps := []struct {
		name   string
		env    string // PARACHUTE_INSTALL_CHANNEL for this step
		req    routerReq
		status int
		code   string
		want   *view
	}{
		{name: "default", req: get("/api/modules/channel", authOnly), status: 200,
			want: &view{Channel: "latest", EffectiveChannel: "latest", Source: "default"}},
		{name: "PUT needs host:admin", req: put("/api/modules/channel", authOnly, `{"channel":"rc"}`), status: 403, code: "insufficient_scope"},
		{name: "PUT without a token", req: put("/api/modules/channel", noToken, `{"channel":"rc"}`), status: 401, code: "unauthenticated"},
		{name: "POST", req: postJSON("/api/modules/channel", operator, `{"channel":"rc"}`), status: 405, code: "method_not_allowed"},
		{name: "invalid channel", req: put("/api/modules/channel", operator, `{"channel":"stable"}`), status: 400, code: "invalid_channel"},
		{name: "missing channel", req: put("/api/modules/channel", operator, `{}`), status: 400, code: "invalid_channel"},
		{name: "unknown member", req: put("/api/modules/channel", operator, `{"chanel":"rc"}`), status: 400, code: "invalid_request"},
		{name: "not JSON", req: put("/api/modules/channel", operator, `not-json`), status: 400, code: "invalid_request"},
		{name: "PUT rc", req: put("/api/modules/channel", operator, `{"channel":"rc"}`), status: 200,
			want: &view{Channel: "rc", EffectiveChannel: "rc", Source: "settings"}},
		{name: "GET after PUT", req: get("/api/modules/channel", authOnly), status: 200,
			want: &view{Channel: "rc", EffectiveChannel: "rc", Source: "settings"}},
		{name: "the environment wins", env: "latest", req: get("/api/modules/channel", authOnly), status: 200,
			want: &view{Channel: "rc", EffectiveChannel: "latest", Source: "env"}},
		{name: "back to latest", req: put("/api/modules/channel", operator, `{"channel":"latest"}`), status: 200,
			want: &view{Channel: "latest", EffectiveChannel: "latest", Source: "settings"}},
	}
	for _, s := range steps {
		t.Setenv("PARACHUTE_INSTALL_CHANNEL", s.env)
		w := h.do(s.req)
		got := resultOf(t, w)
		if got.Status != s.status || got.Code != s.code {
			t.Fatalf("step %q: %s %s = %d %q, want %d %q; body %s", s.name, s.req.method, s.req.path, got.Status, got.Code, s.status, s.code, w.Body)
		}
		if s.want == nil {
			continue
		}
		var v view
		decodeBody(t, w.Body.Bytes(), &v)
		if s.env != "" && !strings.Contains(v.Warning, "PARACHUTE_INSTALL_CHANNEL") {
			t.Errorf("step %q: warning %q does not name the overriding variable", s.name, v.Warning)
		}
		v.Warning = ""
		if diff := cmp.Diff(*s.want, v); diff != "" {
			t.Fatalf("step %q (-want +got):\n%s", s.name, diff)
		}
		if c := catalog(t); c != v.EffectiveChannel {
			t.Fatalf("step %q: GET /api/modules says module_install_channel %q, want %q", s.name, c, v.EffectiveChannel)
		}
	}
}

// TestInstallUsesStoredChannel: an install request that names no channel
// installs from the stored one (the reference's runInstall reads it on
// every operation). PATH holds only a stand-in npm that records its
// arguments and fails, so nothing reaches a registry or the machine's
// global packages.
func TestInstallUsesStoredChannel(t *testing.T) {
	bin := t.TempDir()
	argsFile := filepath.Join(t.TempDir(), "npm-args")
	script := "#!/bin/sh\nif [ \"$1\" = root ]; then echo '" + t.TempDir() + "'; exit 0; fi\necho \"$@\" >> '" + argsFile + "'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("PARACHUTE_INSTALL_CHANNEL", "")
	t.Setenv("PARACHUTE_MODULE_CHANNEL", "")
	h := newRouterHub(t)
	if w := h.do(put("/api/modules/channel", operator, `{"channel":"rc"}`)); w.Code != http.StatusOK {
		t.Fatalf("PUT channel: %d %s", w.Code, w.Body)
	}
	op := h.startOp(t, postJSON("/api/modules/vault/install", operator, `{"no_start":true}`))
	args, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatalf("npm was not run: %v; operation log %q %s", err, op.Log, op.Error)
	}
	if !strings.Contains(string(args), "@openparachute/vault@rc") {
		t.Fatalf("npm ran with %q; want the stored channel rc in the spec", args)
	}
}
