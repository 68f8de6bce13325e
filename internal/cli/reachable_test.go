package cli

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/state"
)

func TestReachabilityFollowsExposures(t *testing.T) {
	root := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only: no LAN row
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ts := &state.Record{Version: 1, Layer: state.LayerPublic, Mode: "path", CanonicalFQDN: "box.tail1234.ts.net", Port: 443, Funnel: true,
		Entries: []state.Entry{{Kind: "proxy", Mount: "/", Target: "http://127.0.0.1:1939/", Service: "hub"}}}
	if err := state.Save(root, &state.State{Providers: map[state.Provider]*state.Record{state.Tailscale: ts}}); err != nil {
		t.Fatal(err)
	}
	got := reachability(root, port)
	var urls []string
	for _, r := range got {
		urls = append(urls, r.URL+" "+r.From)
	}
	want := []string{"http://127.0.0.1:" + strconv.Itoa(port) + "/ this machine", "https://box.tail1234.ts.net/ anyone on the internet (Tailscale Funnel)"}
	if diff := cmp.Diff(want, urls); diff != "" {
		t.Errorf("reachability (-want +got):\n%s", diff)
	}
	var out bytes.Buffer
	printStatus(&env{stdout: &out, stderr: &out}, &statusJSON{Hub: hubStatusJSON{Port: port}, Reachable: got})
	if !strings.Contains(out.String(), "The hub is reachable at:\n  http://127.0.0.1:") || !strings.Contains(out.String(), "https://box.tail1234.ts.net/  (anyone on the internet") {
		t.Errorf("status output:\n%s", out.String())
	}
}

// A hub bound to all interfaces shows up as a LAN row, with the setting
// that turns it off.
func TestReachabilityShowsLANListener(t *testing.T) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	if len(lanListeners(port)) == 0 {
		t.Skip("this machine has no non-loopback address")
	}
	got := reachability(t.TempDir(), port)
	if len(got) < 2 || !strings.Contains(got[1].Protection, "PARACHUTE_BIND_HOST") {
		t.Errorf("no LAN row: %+v", got)
	}
}

// TestReachabilityListsTunnelsInOrder: several Cloudflare tunnels are
// listed by name, the same on every run (they live in a map).
func TestReachabilityListsTunnelsInOrder(t *testing.T) {
	root := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only: no LAN row
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cf := &state.Record{Version: 1, Layer: state.LayerPublic, Mode: "subdomain", CanonicalFQDN: "a.example.com", Port: port,
		HubOrigin: "https://a.example.com", Tunnels: map[string]state.Tunnel{}}
	var want []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		cf.Tunnels["t-"+n] = state.Tunnel{UUID: "u-" + n, Name: "t-" + n, Hostname: n + ".example.com"}
		want = append(want, "https://"+n+".example.com/")
	}
	if err := state.Save(root, &state.State{Providers: map[state.Provider]*state.Record{state.Cloudflare: cf}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		var got []string
		for _, r := range reachability(root, port)[1:] {
			got = append(got, r.URL)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("run %d: tunnels (-want +got):\n%s", i, diff)
		}
	}
}

// TestStatusReportsAMalformedExposeState: a broken expose-state.json is
// reported with its fix, not silently read as "nothing exposed" (issue
// 11: malformed files are reported with the fix).
func TestStatusReportsAMalformedExposeState(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	t.Setenv("PARACHUTE_HUB_URL", "http://127.0.0.1:"+strconv.Itoa(freeTCPPort(t)))
	if err := os.WriteFile(filepath.Join(root, state.StateFile), []byte("{bad"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		_, out, errOut := runCLI(t, args...)
		if !strings.Contains(out, "expose-state.json is malformed") || !strings.Contains(out, "remove it if nothing is exposed") {
			t.Errorf("%v does not report the malformed state file:\n%s\n%s", args, out, errOut)
		}
	}
}
