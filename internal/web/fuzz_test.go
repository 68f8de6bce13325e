package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/accounts"
)

// FuzzFormDecoders feeds arbitrary form bodies to every decoder and to
// safeNext: none may panic, a decoded form respects the caps, and a next
// that survives is always a path on this hub.
func FuzzFormDecoders(f *testing.F) {
	for _, s := range []string{
		"username=alice&password=correct+horse+battery&next=%2Faccount%2F",
		"username=&password=",
		"next=%2F%2Fevil.example&username=a&password=b",
		"next=%2F%5Cevil.example",
		"code=123+456",
		"code=ABCDE-FGHJK",
		"action=confirm&secret=JBSWY3DPEHPK3PXP&code=123456",
		"action=disable&password=x",
		"action=%00",
		"current_password=a&new_password=bbbbbbbbbbbb&confirm_password=bbbbbbbbbbbb",
		"%zz=1&&==",
		"bootstrap_token=parachute-bootstrap-x&username=Owner&password=correct+horse+battery&password_confirm=correct+horse+battery",
		"username=admin&password=short&password_confirm=short",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if lf, err := decodeLogin(v); err == nil {
			if len(lf.Password) > accounts.MaxPasswordBytes || lf.Username == "" || len(lf.Username) > maxUsernameBytes {
				t.Fatalf("login form out of bounds: %+v", lf)
			}
		}
		if cf, err := decodeCode(v); err == nil && (cf.Code == "" || len(cf.Code) > maxCodeBytes) {
			t.Fatalf("code form out of bounds: %+v", cf)
		}
		if pf, err := decodeChangePassword(v); err == nil && accounts.ValidatePassword(pf.New) != nil {
			t.Fatalf("change-password form accepted an invalid password")
		}
		if tf, err := decodeTwoFactor(v); err == nil {
			switch tf.Action {
			case actionStart, actionConfirm, actionDisable:
			default:
				t.Fatalf("two-factor form accepted action %q", tf.Action)
			}
		}
		if sf, err := decodeSetup(v); err == nil {
			if accounts.ValidateUsername(sf.Username) != nil || accounts.ValidatePassword(sf.Password) != nil ||
				sf.Password != v.Get("password_confirm") {
				t.Fatalf("setup form accepted invalid fields: %+v", sf)
			}
		}
		for _, admin := range []bool{true, false} {
			n := safeNext(v.Get("next"), admin)
			u, err := url.Parse(n)
			if err != nil || !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") ||
				strings.Contains(n, "\\") || u.Host != "" || u.Scheme != "" {
				t.Fatalf("safeNext(%q) = %q escapes the hub", v.Get("next"), n)
			}
			if !admin && strings.HasPrefix(u.Path, "/admin/") {
				t.Fatalf("friend sent to %q", n)
			}
		}
	})
}

// FuzzJSONForm feeds arbitrary JSON bodies to the wizard's JSON-to-form
// adapter: it must not panic, and what reaches the handler is a form
// of the body's top-level scalar fields only.
func FuzzJSONForm(f *testing.F) {
	for _, s := range []string{
		`{"__csrf":"x","username":"owner","password":"correct horse battery","password_confirm":"correct horse battery","bootstrap_token":"parachute-bootstrap-x"}`,
		`{"n":1.5e300,"b":true,"nested":{"a":"b"},"arr":["x"]}`,
		`[1,2]`, `null`, `{"a":"b"`, `{"\u0000":"\ud800"}`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got url.Values
		h := jsonForm(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				t.Fatalf("ParseForm after jsonForm: %v", err)
			}
			got = r.PostForm
		}))
		r := httptest.NewRequest("POST", "/admin/setup/account", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got == nil {
			t.Fatal("handler saw no form")
		}
		for k, vs := range got {
			if len(vs) != 1 {
				t.Fatalf("field %q has %d values", k, len(vs))
			}
		}
	})
}
