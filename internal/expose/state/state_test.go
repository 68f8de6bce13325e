package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func tsRecord() *Record {
	return &Record{Version: 1, Layer: LayerTailnet, Mode: "path", CanonicalFQDN: "box.tail1.ts.net", Port: 443,
		Entries: []Entry{{"proxy", "/", "http://127.0.0.1:1939/", "hub"}}, HubPort: 1939}
}

func cfRecord() *Record {
	return &Record{Version: 1, Layer: LayerPublic, Mode: "subdomain", CanonicalFQDN: "hub.example.com", Port: 1939,
		Entries: []Entry{{"proxy", "/", "http://localhost:1939", "hub"}}, HubOrigin: "https://hub.example.com",
		Tunnels: map[string]Tunnel{"parachute-hub-example-com": {UUID: "u", Name: "parachute-hub-example-com", Hostname: "hub.example.com"}}}
}

func TestRoundTripKeepsProvidersApart(t *testing.T) {
	root := t.TempDir()
	st, err := Load(root)
	if err != nil || len(st.Providers) != 0 {
		t.Fatalf("Load(empty) = %v, %v", st, err)
	}
	st.Providers[Tailscale] = tsRecord()
	st.Providers[Cloudflare] = cfRecord()
	if err := Save(root, st); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode: %v %v", fi, err)
	}
	got, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"https://hub.example.com", "https://box.tail1.ts.net"}, got.Origins()); diff != "" {
		t.Errorf("Origins (-want +got):\n%s", diff)
	}
	// Tearing down Cloudflare leaves Tailscale's record alone (§9.11).
	delete(got.Providers, Cloudflare)
	if err := Save(root, got); err != nil {
		t.Fatal(err)
	}
	again, _ := Load(root)
	if diff := cmp.Diff(map[Provider]*Record{Tailscale: tsRecord()}, again.Providers); diff != "" {
		t.Errorf("after cloudflare off (-want +got):\n%s", diff)
	}
	delete(again.Providers, Tailscale)
	if err := Save(root, again); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty state should remove the file, stat = %v", err)
	}
}

func TestReferenceV1FileIsReadAsItsProvider(t *testing.T) {
	for _, c := range []struct {
		body string
		want Provider
	}{
		{`{"version":1,"layer":"public","mode":"path","canonicalFqdn":"b.ts.net","port":443,"funnel":true,"entries":[{"kind":"proxy","mount":"/","target":"http://127.0.0.1:1939/","service":"hub"}],"hubOrigin":"https://b.ts.net"}`, Tailscale},
		{`{"version":1,"layer":"public","mode":"subdomain","canonicalFqdn":"h.example.com","port":1939,"funnel":false,"entries":[{"kind":"proxy","mount":"/","target":"http://localhost:1939","service":"hub"}]}`, Cloudflare},
	} {
		st, err := Parse("x", []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Providers) != 1 || st.Providers[c.want] == nil {
			t.Errorf("v1 %s: providers = %v", c.want, st.Providers)
		}
	}
}

func TestMalformedIsReportedAndNeverRewritten(t *testing.T) {
	cases := map[string]string{
		"not json":         `{`,
		"no version":       `{"providers":{}}`,
		"unknown version":  `{"version":9}`,
		"unknown provider": `{"version":2,"providers":{"ngrok":{"version":1,"layer":"public","mode":"path","canonicalFqdn":"x","port":1,"funnel":false,"entries":[]}}}`,
		"bad layer":        `{"version":2,"providers":{"tailscale":{"version":1,"layer":"lan","mode":"path","canonicalFqdn":"x","port":443,"funnel":false,"entries":[]}}}`,
		"bad mount":        `{"version":2,"providers":{"tailscale":{"version":1,"layer":"tailnet","mode":"path","canonicalFqdn":"x","port":443,"funnel":false,"entries":[{"kind":"proxy","mount":"x","target":"t","service":"s"}]}}}`,
		"empty fqdn":       `{"version":1,"layer":"tailnet","mode":"path","canonicalFqdn":"","port":443,"funnel":false,"entries":[]}`,
		"unknown field":    `{"version":2,"providers":{},"extra":1}`,
		"null record":      `{"version":2,"providers":{"tailscale":null}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, StateFile)
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(root)
			var me *MalformedError
			if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Load = %v, want a MalformedError", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "fix it, or remove it") {
				t.Errorf("message does not name the file and the fix: %v", err)
			}
			if err := Save(root, &State{Providers: map[Provider]*Record{Tailscale: tsRecord()}}); !errors.Is(err, ErrMalformed) {
				t.Errorf("Save over a malformed file = %v, want ErrMalformed", err)
			}
			if b, _ := os.ReadFile(path); string(b) != body {
				t.Errorf("file was rewritten: %q", b)
			}
		})
	}
}

func TestStateFileSymlinkRefused(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	if err := os.WriteFile(target, []byte(`{"version":2,"providers":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(root, StateFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root); err == nil {
		t.Fatal("Load followed a symlink")
	}
}

func TestLastProvider(t *testing.T) {
	root := t.TempDir()
	if got := LoadLastProvider(root); got != "" {
		t.Errorf("missing = %q", got)
	}
	if err := SaveLastProvider(root, Cloudflare, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := LoadLastProvider(root); got != Cloudflare {
		t.Errorf("saved = %q", got)
	}
	for _, body := range []string{`{`, `{"version":1,"provider":"ngrok"}`, `{"version":2,"provider":"tailscale"}`} {
		os.WriteFile(filepath.Join(root, LastProviderFile), []byte(body), 0o600)
		if got := LoadLastProvider(root); got != "" {
			t.Errorf("%s = %q, want ignored", body, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":2,"providers":{}}`))
	f.Add([]byte(`{"version":1,"layer":"tailnet","mode":"path","canonicalFqdn":"b","port":443,"funnel":false,"entries":[]}`))
	f.Add([]byte(`{"version":2,"providers":{"cloudflare":{"version":1,"layer":"public","mode":"subdomain","canonicalFqdn":"h","port":1939,"funnel":false,"entries":[],"tunnels":{"a":{"tunnelUuid":"u","tunnelName":"a","hostname":"h","configPath":"","startedAt":""}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse("fuzz", b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v is not ErrMalformed", err)
			}
			return
		}
		for _, r := range st.Providers {
			if err := r.validate(); err != nil {
				t.Fatalf("Parse accepted an invalid record: %v", err)
			}
		}
		_ = st.Origins()
	})
}

func TestWatcherFollowsTheFile(t *testing.T) {
	root := t.TempDir()
	w := NewWatcher(root)
	if got := w.Origins(); got != nil {
		t.Fatalf("no file: %v", got)
	}
	if err := Save(root, &State{Providers: map[Provider]*Record{Tailscale: tsRecord()}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"https://box.tail1.ts.net"}, w.Origins()); diff != "" {
		t.Fatalf("after save (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(root, StateFile), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := w.Origins(); got != nil || !errors.Is(w.Err(), ErrMalformed) {
		t.Fatalf("malformed: %v, %v", got, w.Err())
	}
	os.Remove(filepath.Join(root, StateFile))
	if got := w.Origins(); got != nil || w.Err() != nil {
		t.Fatalf("removed: %v, %v", got, w.Err())
	}
}

// TestWatcherSeesAReplacementWithTheSameSizeAndMtime: Save replaces the
// file by rename, and on a filesystem with coarse timestamps two saves in
// one tick can leave size and mtime unchanged; the new inode must still be
// read.
func TestWatcherSeesAReplacementWithTheSameSizeAndMtime(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, StateFile)
	w := NewWatcher(root)
	if err := Save(root, &State{Providers: map[Provider]*Record{Tailscale: tsRecord()}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"https://box.tail1.ts.net"}, w.Origins()); diff != "" {
		t.Fatalf("first save (-want +got):\n%s", diff)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r := tsRecord()
	r.CanonicalFQDN = "box.tail2.ts.net" // same length: same file size
	if err := Save(root, &State{Providers: map[Provider]*Record{Tailscale: r}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(path); err != nil || after.Size() != before.Size() {
		t.Fatalf("replacement differs in size (%v) or is missing: %v", after, err)
	}
	if diff := cmp.Diff([]string{"https://box.tail2.ts.net"}, w.Origins()); diff != "" {
		t.Errorf("after replacement (-want +got):\n%s", diff)
	}
}

// TestOverride: only a hubOrigin other than the exposure's own
// https://<fqdn> is an operator's --hub-origin; a public exposure's wins.
func TestOverride(t *testing.T) {
	rec := func(layer, fqdn, hubOrigin string) *Record {
		return &Record{Version: 1, Layer: layer, Mode: "path", CanonicalFQDN: fqdn, Port: 443, HubOrigin: hubOrigin,
			Entries: []Entry{{Kind: "proxy", Mount: "/", Target: "http://127.0.0.1:1939/", Service: "hub"}}}
	}
	cases := []struct {
		name string
		st   *State
		want string
	}{
		{"nil", nil, ""},
		{"none", &State{Providers: map[Provider]*Record{}}, ""},
		{"tailnet without flag", &State{Providers: map[Provider]*Record{Tailscale: rec(LayerTailnet, "box.ts.net", "")}}, ""},
		{"cloudflare's own origin", &State{Providers: map[Provider]*Record{Cloudflare: rec(LayerPublic, "hub.example.com", "https://hub.example.com")}}, ""},
		{"tailnet with flag", &State{Providers: map[Provider]*Record{Tailscale: rec(LayerTailnet, "box.ts.net", "https://mine.example/")}}, "https://mine.example"},
		{"public flag wins over tailnet flag", &State{Providers: map[Provider]*Record{
			Tailscale:  rec(LayerTailnet, "box.ts.net", "https://a.example"),
			Cloudflare: rec(LayerPublic, "hub.example.com", "https://b.example")}}, "https://b.example"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.st.Override(); got != c.want {
				t.Errorf("Override() = %q, want %q", got, c.want)
			}
		})
	}
}

// TestLegacyTunnels: the TypeScript hub's cloudflared-state.json (v1 and
// v2) is read, and a tunnel expose-state.json already records is left out.
func TestLegacyTunnels(t *testing.T) {
	root := t.TempDir()
	if got, err := LegacyTunnels(root); err != nil || got != nil {
		t.Fatalf("no file: %v, %v", got, err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, LegacyTunnelsFile), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"version":2,"tunnels":{
		"b":{"pid":42,"tunnelUuid":"u-b","tunnelName":"b","hostname":"b.example.com","startedAt":"x","configPath":"/c/b.yml"},
		"a":{"pid":41,"tunnelUuid":"u-a","tunnelName":"a","hostname":"a.example.com","startedAt":"x","configPath":"/c/a.yml","serviceManaged":true}}}`)
	got, err := LegacyTunnels(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []LegacyTunnel{
		{PID: 41, UUID: "u-a", Name: "a", Hostname: "a.example.com", ConfigPath: "/c/a.yml", ServiceManaged: true},
		{PID: 42, UUID: "u-b", Name: "b", Hostname: "b.example.com", ConfigPath: "/c/b.yml"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("v2 (-want +got):\n%s", diff)
	}
	rec := &Record{Version: 1, Layer: LayerPublic, Mode: "subdomain", CanonicalFQDN: "a.example.com", Port: 1939,
		Entries: []Entry{{Kind: "proxy", Mount: "/", Target: "http://localhost:1939", Service: "hub"}},
		Tunnels: map[string]Tunnel{"a": {UUID: "u-a", Name: "a", Hostname: "a.example.com", ConfigPath: "/c/a.yml"}}}
	if err := Save(root, &State{Providers: map[Provider]*Record{Cloudflare: rec}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := LegacyTunnels(root); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("with a recorded: %+v", got)
	}
	write(`{"version":1,"pid":7,"tunnelUuid":"u-p","tunnelName":"parachute","hostname":"p.example.com","startedAt":"x","configPath":"/c/p.yml"}`)
	if got, _ := LegacyTunnels(root); len(got) != 1 || got[0].Name != "parachute" || got[0].PID != 7 {
		t.Errorf("v1: %+v", got)
	}
	write(`{"version":3}`)
	if _, err := LegacyTunnels(root); !errors.Is(err, ErrMalformed) {
		t.Errorf("unknown version: %v", err)
	}
}

// TestForgetLegacy: a tunnel taken over leaves cloudflared-state.json;
// the others stay field for field (fields this hub does not model
// included) in the reference's v2 form; the last one removes the file.
func TestForgetLegacy(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, LegacyTunnelsFile)
	if err := ForgetLegacy(root, "a"); err != nil {
		t.Fatalf("no file: %v", err)
	}
	body := `{"version":2,"tunnels":{
		"a":{"pid":41,"tunnelUuid":"u-a","tunnelName":"a","hostname":"a.example.com","startedAt":"x","configPath":"/c/a.yml"},
		"b":{"pid":42,"tunnelUuid":"u-b","tunnelName":"b","hostname":"b.example.com","startedAt":"y","configPath":"/c/b.yml"}}}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ForgetLegacy(root, "nope"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != body {
		t.Fatalf("forgetting an unknown tunnel rewrote the file: %s", b)
	}
	if err := ForgetLegacy(root, "a"); err != nil {
		t.Fatal(err)
	}
	got, err := LegacyRecords(root)
	if err != nil || len(got) != 1 || got[0].Name != "b" || got[0].PID != 42 {
		t.Fatalf("after forgetting a: %+v %v", got, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"startedAt": "y"`) || !strings.Contains(string(b), `"version": 2`) {
		t.Errorf("the kept record lost its fields: %s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := ForgetLegacy(root, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the file outlived its last tunnel: %v", err)
	}
	// v1: its one record.
	if err := os.WriteFile(path, []byte(`{"version":1,"pid":7,"tunnelUuid":"u","tunnelName":"parachute","hostname":"p.example.com","configPath":"/c/p.yml"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ForgetLegacy(root, "parachute"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("v1 file kept: %v", err)
	}
}
