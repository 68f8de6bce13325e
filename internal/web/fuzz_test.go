package web

import (
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
		_ = isTOTPShape(v.Get("code"))
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
