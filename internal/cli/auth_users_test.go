package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/hubdb"
)

// accountsRoot points the CLI at a fresh config root with no hub and a
// non-terminal stdin, and returns the root.
func accountsRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:1") // no hub
	t.Setenv("PARACHUTE_HUB_ORIGIN", "")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	old := stdin
	stdin = null
	t.Cleanup(func() { stdin = old; null.Close() })
	return root
}

func TestAuthUnknownSubcommand(t *testing.T) {
	accountsRoot(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"unknown", []string{"auth", "bogus"}, ExitUsage, "", "parachute auth: unknown command \"bogus\""},
		{"unknown lists the verbs", []string{"auth", "frobnicate"}, ExitUsage, "", "set-password, list-users"},
		{"no sub-command shows help", []string{"auth"}, ExitOK, "set-password", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("Main(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tc.args, code, out.String(), errOut.String(), tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestSetPasswordAndListUsers(t *testing.T) {
	root := accountsRoot(t)
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"no users", []string{"auth", "list-users"}, ExitOK,
			[]string{"(no hub users yet — run `parachute auth set-password` to create the first one)"}, ""},
		{"no password off a terminal", []string{"auth", "set-password"}, ExitFail, nil,
			"parachute auth set-password: --password is required when stdin is not a TTY"},
		{"empty password flag", []string{"auth", "set-password", "--password", ""}, ExitUsage, nil,
			"--password requires a value"},
		{"first user", []string{"auth", "set-password", "--password", "first passphrase"}, ExitOK,
			[]string{`Created hub user "owner" (id=`, "Wrote operator token to " + filepath.Join(root, "operator.token") + " (mode 0600)."}, ""},
		{"second user without allow-multi", []string{"auth", "set-password", "--username", "friend", "--password", "friend passphrase"}, ExitFail, nil,
			`parachute auth set-password: a user named "owner" already exists. To create another, pass --allow-multi.`},
		{"invalid new name", []string{"auth", "set-password", "--username", "Bob", "--password", "friend passphrase", "--allow-multi"}, ExitFail, nil,
			"parachute auth set-password: invalid username: username must contain only lowercase letters"},
		{"short password", []string{"auth", "set-password", "--password", "too short"}, ExitFail, nil,
			"parachute auth set-password: invalid password: password must be at least 12 characters"},
		{"second user", []string{"auth", "set-password", "--username", "friend", "--password", "friend passphrase", "--allow-multi"}, ExitOK,
			[]string{`Created hub user "friend" (id=`}, ""},
		{"change the admin's", []string{"auth", "set-password", "--password", "second passphrase"}, ExitOK,
			[]string{`Updated password for "owner".`, "Refreshed operator token at "}, ""},
		{"change a named user's", []string{"auth", "set-password", "--password", "friend passphrase two", "--username", "friend"}, ExitOK,
			[]string{`Updated password for "friend".`}, ""},
		{"stray argument", []string{"auth", "set-password", "owner"}, ExitUsage, nil, `unexpected argument "owner"`},
		{"list", []string{"auth", "list-users"}, ExitOK,
			[]string{"USERNAME           ID                                    CREATED\n", "\nowner              ", "\nfriend             "}, ""},
	}
	for _, st := range steps {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), st.args, &out, &errOut)
		ok := code == st.code && strings.Contains(errOut.String(), st.stderr)
		for _, s := range st.stdout {
			ok = ok && strings.Contains(out.String(), s)
		}
		if !ok {
			t.Fatalf("%s: Main(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
				st.name, st.args, code, out.String(), errOut.String(), st.code, st.stdout, st.stderr)
		}
	}

	if fi, err := os.Stat(filepath.Join(root, "operator.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("operator.token: %v, %v", fi, err)
	}
	db, err := hubdb.Open(context.Background(), filepath.Join(root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := accounts.NewStore(db)
	for name, pw := range map[string]string{"owner": "second passphrase", "friend": "friend passphrase two"} {
		u, err := store.ByName(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := accounts.VerifyPassword(u.PasswordHash, pw); !ok || err != nil || !u.PasswordChanged {
			t.Errorf("%s: password %q verifies = %v, %v; changed = %v", name, pw, ok, err, u.PasswordChanged)
		}
	}
}

func TestSetPasswordPromptsOnATerminal(t *testing.T) {
	root := accountsRoot(t)
	master, slave := openPTY(t)
	stdin = slave
	// Typed ahead: the password twice, then Enter at "Create ...? [Y/n]".
	// The terminal buffers it until each prompt reads a line.
	if _, err := master.WriteString("typed passphrase\ntyped passphrase\n\n"); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	code := Main(context.Background(), []string{"auth", "set-password"}, slave, &errOut)
	if code != ExitOK {
		t.Fatalf("set-password on a terminal = %d: %s", code, errOut.String())
	}
	db, err := hubdb.Open(context.Background(), filepath.Join(root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := accounts.NewStore(db).ByName(context.Background(), "owner")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := accounts.VerifyPassword(u.PasswordHash, "typed passphrase"); !ok {
		t.Error("the typed password does not verify")
	}
}
