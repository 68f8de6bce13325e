package users

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/openparachute/parachute/internal/accounts"
)

// FuzzParseCreate feeds arbitrary bodies to POST /api/users' decoder and
// rules. Whatever the bytes, it must not panic, must answer a 4xx when it
// refuses, and what it accepts must satisfy the account rules: a valid
// username, a password within the caps, vault names non-empty and
// distinct.
func FuzzParseCreate(f *testing.F) {
	for _, s := range []string{
		`{"username":"bob","password":"a long passphrase"}`,
		`{"username":"bob","password":"a long passphrase","assigned_vaults":["work","work"]}`,
		`{"username":"bob","password":"a long passphrase","assignedVaults":null}`,
		`{"username":"bob","password":"a long passphrase","assigned_vaults":[""]}`,
		`{"username":"Bob","password":"x"}`,
		`{"username":"root","password":"a long passphrase"}`,
		`{"username":"bob","password":"` + strings.Repeat("é", 600) + `"}`,
		`{"username":"bob"}{"username":"eve"}`,
		`[]`, `null`, ``, `{"admin":true}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/api/users", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		req, vaults, err := parseCreate(httptest.NewRecorder(), r)
		if err != nil {
			if err.Status < 400 || err.Status > 499 || err.Description == "" {
				t.Fatalf("refusal %+v is not a described 4xx", err)
			}
			return
		}
		if accounts.ValidateUsername(req.Username) != nil {
			t.Fatalf("accepted username %q", req.Username)
		}
		if len(req.Password) > accounts.MaxPasswordBytes || utf8.RuneCountInString(req.Password) < accounts.MinPasswordLen {
			t.Fatalf("accepted a password of %d bytes", len(req.Password))
		}
		for i, v := range vaults {
			if v == "" || slices.Contains(vaults[:i], v) {
				t.Fatalf("accepted vaults %q", vaults)
			}
		}
	})
}
