package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Claims is the payload of a hub JWT. Registered claims the hub uses have
// fields; anything else round-trips through Extra.
type Claims struct {
	Issuer  string // iss
	Subject string // sub
	// Audience is the aud claim when it is a single string, or the first
	// element when it is an array.
	Audience string
	// Audiences holds every element when aud is an array in JSON; it is
	// nil when aud was a plain string. Setting it makes Mint emit an array.
	Audiences []string
	ExpiresAt int64  // exp, Unix seconds; 0 means absent
	IssuedAt  int64  // iat, Unix seconds; 0 means absent
	NotBefore int64  // nbf, Unix seconds; 0 means absent
	JTI       string // jti
	// Scope is the space-separated scope list.
	Scope    string
	ClientID string // client_id
	// ScopeSet is pa_scope_set: the operator scope set the token was
	// minted under.
	ScopeSet string
	// VaultScope is vault_scope; empty means "no per-vault restriction".
	VaultScope []string
	// Extra holds claims without a field. Keys naming a field's claim are
	// ignored when encoding.
	Extra map[string]any
}

// HasScope reports whether s is one of the space-separated scopes (exact
// match, no inheritance).
func (c *Claims) HasScope(s string) bool {
	return s != "" && slices.Contains(strings.Fields(c.Scope), s)
}

// Scopes returns the scope list.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasAudience reports whether aud is (or contains) a.
func (c *Claims) HasAudience(a string) bool {
	if a == "" {
		return false
	}
	if len(c.Audiences) > 0 {
		return slices.Contains(c.Audiences, a)
	}
	return c.Audience == a
}

// Expiry returns exp as a time; zero when absent.
func (c *Claims) Expiry() time.Time {
	if c.ExpiresAt == 0 {
		return time.Time{}
	}
	return time.Unix(c.ExpiresAt, 0)
}

// registered lists the JSON names of the claims that have fields.
var registered = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "pa_scope_set", "vault_scope"}

// MarshalJSON encodes the claims as a flat JSON object. vault_scope is
// always present (as [] when empty), as the reference emits it, so module
// scope guards never have to tell "absent" from "empty".
func (c Claims) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(c.Extra)+len(registered))
	for k, v := range c.Extra {
		if !slices.Contains(registered, k) {
			m[k] = v
		}
	}
	setStr := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	setInt := func(k string, v int64) {
		if v != 0 {
			m[k] = v
		}
	}
	setStr("iss", c.Issuer)
	setStr("sub", c.Subject)
	if len(c.Audiences) > 0 {
		m["aud"] = c.Audiences
	} else {
		setStr("aud", c.Audience)
	}
	setInt("exp", c.ExpiresAt)
	setInt("iat", c.IssuedAt)
	setInt("nbf", c.NotBefore)
	setStr("jti", c.JTI)
	setStr("scope", c.Scope)
	setStr("client_id", c.ClientID)
	setStr("pa_scope_set", c.ScopeSet)
	vs := c.VaultScope
	if vs == nil {
		vs = []string{}
	}
	m["vault_scope"] = vs
	return json.Marshal(m)
}

// UnmarshalJSON decodes a JWT payload. A registered claim of the wrong
// JSON type is an error rather than silently dropped, so a token cannot
// smuggle e.g. a numeric sub past a "sub must be non-empty" check.
func (c *Claims) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("claims are not a JSON object: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("claims are null")
	}
	*c = Claims{}
	str := func(k string, dst *string) error {
		v, ok := raw[k]
		if !ok || isNull(v) {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("claim %q is not a string", k)
		}
		return nil
	}
	num := func(k string, dst *int64) error {
		v, ok := raw[k]
		if !ok || isNull(v) {
			return nil
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || math.IsNaN(f) || math.Abs(f) >= 1<<62 {
			return fmt.Errorf("claim %q is not a number", k)
		}
		// NumericDate may carry a fraction; truncate like other libraries.
		*dst = int64(f)
		return nil
	}
	for _, step := range []error{
		str("iss", &c.Issuer), str("sub", &c.Subject), str("jti", &c.JTI),
		str("scope", &c.Scope), str("client_id", &c.ClientID), str("pa_scope_set", &c.ScopeSet),
		num("exp", &c.ExpiresAt), num("iat", &c.IssuedAt), num("nbf", &c.NotBefore),
	} {
		if step != nil {
			return step
		}
	}
	if v, ok := raw["aud"]; ok && !isNull(v) {
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			if err := json.Unmarshal(v, &c.Audiences); err != nil {
				return fmt.Errorf("claim \"aud\" is not a string array")
			}
			if len(c.Audiences) > 0 {
				c.Audience = c.Audiences[0]
			}
		} else if err := json.Unmarshal(v, &c.Audience); err != nil {
			return fmt.Errorf("claim \"aud\" is not a string")
		}
	}
	if v, ok := raw["vault_scope"]; ok && !isNull(v) {
		if err := json.Unmarshal(v, &c.VaultScope); err != nil {
			return fmt.Errorf("claim \"vault_scope\" is not a string array")
		}
	}
	for k, v := range raw {
		if slices.Contains(registered, k) {
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("claim %q: %w", k, err)
		}
		if c.Extra == nil {
			c.Extra = map[string]any{}
		}
		c.Extra[k] = x
	}
	return nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }
