package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/hubdb"
	"github.com/openparachute/parachute/internal/sessions"
	"github.com/openparachute/parachute/internal/testenv"
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
		{"stray argument to rotate-key", []string{"auth", "rotate-key", "now"}, ExitUsage, "", "parachute auth rotate-key takes no arguments"},
		{"stray argument to rotate-operator", []string{"auth", "rotate-operator", "admin"}, ExitUsage, "", "parachute auth rotate-operator takes no arguments"},
		{"stray argument to list-users", []string{"auth", "list-users", "alice"}, ExitUsage, "", "parachute auth list-users takes no arguments"},
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
	master, slave := testenv.OpenPTY(t)
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

// Cancelling set-password at its prompt (what Ctrl-C does through main)
// gives the terminal its echo back and exits 130 without creating anyone.
func TestSetPasswordInterruptedRestoresEcho(t *testing.T) {
	root := accountsRoot(t)
	master, slave := testenv.OpenPTY(t)
	stdin = slave
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"auth", "set-password"}, slave, &errOut) }()
	testenv.ReadUntil(t, master, "Password for")
	// The prompt is printed just before the read turns echo off: wait
	// for the terminal state itself, bounded.
	testenv.WaitEchoOff(t, slave)
	cancel()
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Fatalf("set-password after cancel = %d, want %d: %s", code, ExitInterrupted, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("set-password still waits for the password 10 s after its context was cancelled")
	}
	if !testenv.EchoOn(t, slave) {
		t.Error("the terminal's echo is still off after the interrupted prompt")
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("stderr = %q, want it to say the command was interrupted", errOut.String())
	}
	if _, err := os.Stat(filepath.Join(root, "operator.token")); !os.IsNotExist(err) {
		t.Errorf("operator.token after an interrupted set-password: %v", err)
	}
}

// TestSetPasswordEndsSessions: a password changed from the box ends every
// browser session of that user (issue 10: "a password change or reset
// ends that user's other sessions"), and only that user's.
func TestSetPasswordEndsSessions(t *testing.T) {
	root := accountsRoot(t)
	ctx := context.Background()
	for _, args := range [][]string{
		{"auth", "set-password", "--username", "owner", "--password", "first passphrase"},
		{"auth", "set-password", "--username", "friend", "--password", "friend passphrase", "--allow-multi"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(ctx, args, &out, &errOut); code != ExitOK {
			t.Fatalf("Main(%q) = %d\n%s%s", args, code, out.String(), errOut.String())
		}
	}
	db, err := hubdb.Open(ctx, filepath.Join(root, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, sm := accounts.NewStore(db), sessions.New(sessions.Options{DB: db})
	session := func(name string) string {
		u, err := store.ByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := sm.Create(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	live := func(raw string) bool {
		r := httptest.NewRequest("GET", "/account/", nil)
		r.AddCookie(&http.Cookie{Name: sessions.SessionCookie, Value: raw})
		_, ok := sm.Current(r)
		return ok
	}
	owner1, owner2, friend := session("owner"), session("owner"), session("friend")

	var out, errOut bytes.Buffer
	args := []string{"auth", "set-password", "--username", "owner", "--password", "second passphrase"}
	if code := Main(ctx, args, &out, &errOut); code != ExitOK ||
		!strings.Contains(out.String(), `Browsers signed in as "owner" must sign in again.`) {
		t.Fatalf("Main(%q) = %d\nstdout: %s\nstderr: %s", args, code, out.String(), errOut.String())
	}
	if live(owner1) || live(owner2) {
		t.Errorf("owner's sessions outlived the password change (live: %v, %v)", live(owner1), live(owner2))
	}
	if !live(friend) {
		t.Error("another user's session ended with owner's password change")
	}
}
