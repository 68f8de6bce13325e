package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// moduleVerifier checks a bearer token the way a module does, knowing only
// what the hub tells a module: its origin (PARACHUTE_HUB_ORIGIN) and the
// JWKS at /.well-known/jwks.json. It uses go-jose and net/http only, never
// the hub's own auth package, so it pins the wire contract.
type moduleVerifier struct {
	jwksURL  string // fetched over HTTP on every check (no cache)
	issuer   string // the origin the module was handed
	audience string // the module's own audience, e.g. vault.default
}

// check verifies tok and returns its scopes.
func (v moduleVerifier) check(tok string) ([]string, error) {
	resp, err := http.Get(v.jwksURL)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS: HTTP %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("decoding JWKS: %w", err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("parsing token: %w", err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 || keys[0].Use != "sig" || keys[0].Algorithm != string(jose.RS256) {
		return nil, fmt.Errorf("kid %q: %d usable keys in the JWKS", parsed.Headers[0].KeyID, len(keys))
	}
	var std jwt.Claims
	var hub struct {
		Scope      string   `json:"scope"`
		VaultScope []string `json:"vault_scope"`
	}
	if err := parsed.Claims(keys[0].Key, &std, &hub); err != nil {
		return nil, fmt.Errorf("verifying signature: %w", err)
	}
	if err := std.Validate(jwt.Expected{Issuer: v.issuer, AnyAudience: jwt.Audience{v.audience}, Time: time.Now()}); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if hub.VaultScope == nil {
		return nil, fmt.Errorf("no vault_scope claim")
	}
	return strings.Fields(hub.Scope), nil
}

// hubOriginLine is the line testmod prints with the origin the hub gave it.
var hubOriginLine = regexp.MustCompile(`hub origin ([^)\s]+)\)`)

// A token from `parachute auth mint-token --scope vault:default:read`
// verifies in a module-style checker: JWKS over HTTP, iss = the origin the
// hub handed its module, aud = vault.default, the scope present. After
// `parachute auth rotate-key` it still verifies (the retired key stays in
// the JWKS) and new tokens carry the new key.
func TestMintedTokenVerifiesLikeAModule(t *testing.T) {
	h := newHome(t, module{name: "notes", mode: []string{"serve"}})
	// A configured public origin: the canonical issuer is then not the
	// loopback URL the CLI reaches the hub on.
	h.extraEnv = []string{"PARACHUTE_HUB_ORIGIN=https://hub.example.test"}
	h.start()
	var origin string
	waitFor(t, "the module's hub origin line", 15*time.Second, func() bool {
		m := hubOriginLine.FindStringSubmatch(h.out.String())
		if m != nil {
			origin = m[1]
		}
		return m != nil
	})
	if origin != "https://hub.example.test" {
		t.Fatalf("module was handed PARACHUTE_HUB_ORIGIN %q", origin)
	}

	mint := func(args ...string) string {
		t.Helper()
		out, errOut, code := h.run(append([]string{"auth", "mint-token"}, args...)...)
		if code != 0 {
			t.Fatalf("auth mint-token %v = %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		tok, rest, _ := strings.Cut(out, "\n")
		if rest != "" || strings.Count(tok, ".") != 2 {
			t.Fatalf("auth mint-token stdout is not just a token: %q", out)
		}
		return tok
	}
	vault := moduleVerifier{jwksURL: h.url("/.well-known/jwks.json"), issuer: origin, audience: "vault.default"}
	tok := mint("--scope", "vault:default:read")
	scopes, err := vault.check(tok)
	if err != nil {
		t.Fatalf("module-style verification: %v", err)
	}
	if !slices.Contains(scopes, "vault:default:read") {
		t.Errorf("scopes %q lack vault:default:read", scopes)
	}

	// What a module must refuse.
	loopback := vault
	loopback.issuer = h.url("")
	other := vault
	other.audience = "vault.other"
	for name, c := range map[string]struct {
		v   moduleVerifier
		tok string
	}{
		"iss pinned to another origin":     {loopback, tok},
		"another module's audience":        {other, tok},
		"token for another vault":          {vault, mint("--scope", "vault:work:read")},
		"token with an explicit other aud": {vault, mint("--scope", "vault:default:read", "--aud", "scribe")},
	} {
		if _, err := c.v.check(c.tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Host authority is never mintable: the CLI refuses it as a usage error
	// (exit 2) and says so on stderr.
	if out, errOut, code := h.run("auth", "mint-token", "--scope", "parachute:host:admin"); code != 2 || out != "" || !strings.Contains(errOut, "never mintable") {
		t.Errorf("minting parachute:host:admin = %d\nstdout: %q\nstderr: %q", code, out, errOut)
	}

	if out, errOut, code := h.run("auth", "rotate-key"); code != 0 {
		t.Fatalf("auth rotate-key = %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, err := vault.check(tok); err != nil {
		t.Errorf("a token of the retired key, right after rotate-key: %v", err)
	}
	fresh := mint("--scope", "vault:default:read", "--ephemeral")
	if _, err := vault.check(fresh); err != nil {
		t.Errorf("a token of the new key: %v", err)
	}
	kid := func(tok string) string {
		p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		return p.Headers[0].KeyID
	}
	if kid(fresh) == kid(tok) {
		t.Errorf("the token minted after rotate-key still uses kid %s", kid(tok))
	}
}
