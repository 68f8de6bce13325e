package accounts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestBootstrapClaim(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	b, err := st.NewBootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := b.Token()
	if !strings.HasPrefix(tok, BootstrapPrefix) || len(tok) != len(BootstrapPrefix)+43 {
		t.Fatalf("token %q", tok)
	}
	steps := []struct {
		name  string
		token string
		user  string
		want  error
	}{
		{"missing", "", "alice", ErrBootstrapInvalid},
		{"wrong, same length", BootstrapPrefix + strings.Repeat("A", 43), "alice", ErrBootstrapInvalid},
		{"prefix of the token", tok[:len(tok)-1], "alice", ErrBootstrapInvalid},
		{"right", tok, "alice", nil},
		{"again", tok, "bob", ErrBootstrapUsed},
	}
	for _, s := range steps {
		_, err := b.Claim(ctx, s.token, s.user, "correct horse battery")
		if !errors.Is(err, s.want) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.want)
		}
	}
	if n, _ := st.Count(ctx); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestBootstrapRacingClaimsMakeOneAdmin(t *testing.T) {
	st, _ := newStore(t)
	b, _ := st.NewBootstrap(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Claim(context.Background(), b.Token(), "admin"+string(rune('a'+i)), "correct horse battery")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, used := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrBootstrapUsed):
			used++
		default:
			t.Errorf("claim: %v", err)
		}
	}
	if ok != 1 || used != 3 {
		t.Errorf("%d claims won, %d got 410; want 1 and 3", ok, used)
	}
	if n, _ := st.Count(context.Background()); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestBootstrapMootOnceAnAdminExists(t *testing.T) {
	st, _ := newStore(t)
	b, _ := st.NewBootstrap(nil)
	if _, err := st.Create(context.Background(), "alice", "correct horse battery", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claim(context.Background(), b.Token(), "bob", "correct horse battery"); !errors.Is(err, ErrBootstrapUsed) {
		t.Errorf("claim after CLI admin: %v, want ErrBootstrapUsed", err)
	}
}

func TestSeedInitialAdminOnce(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	env := map[string]string{"PARACHUTE_INITIAL_ADMIN_USERNAME": "  ", "PARACHUTE_INITIAL_ADMIN_PASSWORD": "correct horse battery"}
	if set, u, err := st.SeedInitialAdmin(ctx, func(k string) string { return env[k] }); set || u != nil || err != nil {
		t.Fatalf("blank username: %v %v %v", set, u, err)
	}
	env["PARACHUTE_INITIAL_ADMIN_USERNAME"] = "alice"
	set, u, err := st.SeedInitialAdmin(ctx, func(k string) string { return env[k] })
	if !set || u == nil || err != nil || !u.PasswordChanged {
		t.Fatalf("seed: %v %+v %v", set, u, err)
	}
	env["PARACHUTE_INITIAL_ADMIN_PASSWORD"] = "another password entirely"
	if _, u, err := st.SeedInitialAdmin(ctx, func(k string) string { return env[k] }); u != nil || err != nil {
		t.Fatalf("second seed: %+v %v", u, err)
	}
	got, _ := st.ByName(ctx, "alice")
	if ok, _ := VerifyPassword(got.PasswordHash, "correct horse battery"); !ok {
		t.Error("a later start re-applied the seed password")
	}
}

// TestBootstrapCheck: Check answers as Claim would, without creating
// anyone, and says "used" once the token is claimed.
func TestBootstrapCheck(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	b, err := st.NewBootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := b.Token()
	for _, c := range []struct {
		name, token string
		want        error
	}{
		{"missing", "", ErrBootstrapInvalid},
		{"wrong, same length", BootstrapPrefix + strings.Repeat("A", 43), ErrBootstrapInvalid},
		{"longer", tok + "A", ErrBootstrapInvalid},
		{"right", tok, nil},
	} {
		if err := b.Check(c.token); !errors.Is(err, c.want) {
			t.Errorf("%s: Check = %v, want %v", c.name, err, c.want)
		}
	}
	if n, _ := st.Count(ctx); n != 0 {
		t.Fatalf("Check created %d users", n)
	}
	if _, err := b.Claim(ctx, tok, "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(tok); !errors.Is(err, ErrBootstrapUsed) {
		t.Errorf("Check after the claim = %v, want ErrBootstrapUsed", err)
	}
}
