package sessions

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/hubdb"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a real hub.db with two users and a Manager on a fake clock.
type fixture struct {
	m        *Manager
	clk      *clock
	alice    string
	bob      string
	countRow func(where string, args ...any) int
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := hubdb.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := accounts.NewStore(db)
	a, err := st.Create(ctx, "alice", "correct horse battery", accounts.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Create(ctx, "bob", "correct horse battery", accounts.CreateOptions{AllowMulti: true})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := &fixture{m: New(Options{DB: db, Now: clk.Now}), clk: clk, alice: a.ID, bob: b.ID}
	f.countRow = func(where string, args ...any) int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE `+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return f
}

func TestStoredHashedNeverClear(t *testing.T) {
	f := newFixture(t)
	raw, _, err := f.m.Create(context.Background(), f.alice)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.countRow("id = ?", raw); n != 0 {
		t.Errorf("raw cookie value stored in clear")
	}
	if n := f.countRow("id = ? AND user_id = ?", HashID(raw), f.alice); n != 1 {
		t.Errorf("rows with the hashed id = %d, want 1", n)
	}
	if len(HashID(raw)) != 64 {
		t.Errorf("HashID length %d, want 64 hex chars", len(HashID(raw)))
	}
}

func TestAbsoluteExpiryAndGC(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw, exp, err := f.m.Create(ctx, f.alice)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clk.Now().Add(24 * time.Hour); !exp.Equal(want) {
		t.Errorf("expires %v, want %v", exp, want)
	}
	steps := []struct {
		advance time.Duration
		live    bool
	}{
		{0, true},
		{23*time.Hour + 59*time.Minute, true}, // used all day long: no sliding
		{59 * time.Second, true},
		{time.Second, false}, // exactly 24 h after sign-in
	}
	for i, s := range steps {
		f.clk.Add(s.advance)
		uid, err := f.m.Lookup(ctx, raw)
		if got := err == nil && uid == f.alice; got != s.live {
			t.Fatalf("step %d: live = %v (err %v), want %v", i, got, err, s.live)
		}
	}
	n, err := f.m.GC(ctx)
	if err != nil || n != 1 {
		t.Fatalf("GC = %d, %v; want 1 row", n, err)
	}
	// Create also collects expired rows.
	if _, _, err := f.m.Create(ctx, f.bob); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(SessionTTL)
	if _, _, err := f.m.Create(ctx, f.bob); err != nil {
		t.Fatal(err)
	}
	if n := f.countRow("1"); n != 1 {
		t.Errorf("rows after a sign-in a day later = %d, want 1", n)
	}
}

func TestStartIsFreshAndEndDeletes(t *testing.T) {
	f := newFixture(t)
	// A planted (or old) session cookie is replaced, not reused.
	old, _, err := f.m.Create(context.Background(), f.alice)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/login", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: old})
	w := httptest.NewRecorder()
	raw, err := f.m.Start(w, r, f.alice)
	if err != nil {
		t.Fatal(err)
	}
	if raw == old {
		t.Fatal("sign-in reused the presented session id")
	}
	if _, err := f.m.Lookup(context.Background(), old); err != ErrNoSession {
		t.Errorf("old session still live: %v", err)
	}
	c := w.Result().Cookies()[0]
	if c.Name != SessionCookie || c.Value != raw || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.MaxAge != 86400 || c.Secure {
		t.Errorf("session cookie = %+v", c)
	}

	r = httptest.NewRequest("POST", "/logout", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: raw})
	if uid, ok := f.m.Current(r); !ok || uid != f.alice {
		t.Fatalf("Current = %q, %v", uid, ok)
	}
	w = httptest.NewRecorder()
	if err := f.m.End(w, r); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.m.Current(r); ok {
		t.Error("session live after End")
	}
	if h := w.Header().Get("Set-Cookie"); !strings.Contains(h, "Max-Age=0") {
		t.Errorf("logout cookie %q does not clear", h)
	}
}

func TestEndOthers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	keep, _, _ := f.m.Create(ctx, f.alice)
	other, _, _ := f.m.Create(ctx, f.alice)
	bobs, _, _ := f.m.Create(ctx, f.bob)
	n, err := f.m.EndOthers(ctx, f.alice, keep)
	if err != nil || n != 1 {
		t.Fatalf("EndOthers = %d, %v; want 1", n, err)
	}
	for raw, live := range map[string]bool{keep: true, other: false, bobs: true} {
		if _, err := f.m.Lookup(ctx, raw); (err == nil) != live {
			t.Errorf("session live = %v, want %v", err == nil, live)
		}
	}
	if n, _ := f.m.EndOthers(ctx, f.alice, ""); n != 1 {
		t.Errorf("EndOthers with no keeper ended %d, want 1", n)
	}
}

func TestCurrentRefusesJunk(t *testing.T) {
	f := newFixture(t)
	for _, v := range []string{"", "x", strings.Repeat("A", 43) + "!", strings.Repeat("A", 4096)} {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: v})
		if _, ok := f.m.Current(r); ok {
			t.Errorf("junk cookie %q accepted", v)
		}
	}
}

func TestDefaultSecure(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	cases := []struct {
		name   string
		remote string
		proto  string
		tls    bool
		want   bool
	}{
		{"plain http", "127.0.0.1:5000", "", false, false},
		{"tls", "192.0.2.1:5000", "", true, true},
		{"loopback tunnel https", "127.0.0.1:5000", " HTTPS , http", false, true},
		{"loopback tunnel http", "127.0.0.1:5000", "http", false, false},
		{"untrusted peer claims https", "192.0.2.1:5000", "https", false, false},
		{"trusted proxy https", "10.1.2.3:5000", "https", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			if c.proto != "" {
				r.Header.Set("X-Forwarded-Proto", c.proto)
			}
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := DefaultSecure(r, []netip.Prefix{proxy}); got != c.want {
				t.Errorf("DefaultSecure = %v, want %v", got, c.want)
			}
		})
	}
}
