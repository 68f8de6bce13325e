package expose

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/state"
)

// certPEM is an origin certificate as `cloudflared tunnel login` writes it.
func certPEM(zone, account, token string) string {
	b, _ := json.Marshal(map[string]string{"zoneID": zone, "accountID": account, "apiToken": token})
	return "-----BEGIN ARGO TUNNEL TOKEN-----\n" + base64.StdEncoding.EncodeToString(b) + "\n-----END ARGO TUNNEL TOKEN-----\n"
}

// cfAPIFake is the Cloudflare v4 API for a few zones and records. It
// records every request as "METHOD path?query auth" and answers 403 to
// everything when forbidden is set.
type cfAPIFake struct {
	zones     map[string]string     // zone name → id
	records   map[string][]cfRecord // zone id → records
	forbidden bool

	mu  sync.Mutex
	log []string
}

func (f *cfAPIFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	f.log = append(f.log, line+" "+r.Header.Get("Authorization"))
	ok := func(result any) {
		json.NewEncoder(w).Encode(map[string]any{"success": true, "errors": []any{}, "result": result})
	}
	if f.forbidden {
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{"success": false, "errors": []any{map[string]any{"code": 10000, "message": "Authentication error"}}})
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/client/v4/"), "/")
	switch {
	case r.Method == "GET" && len(parts) == 1 && parts[0] == "zones":
		res := []map[string]string{}
		if id, ok := f.zones[r.URL.Query().Get("name")]; ok {
			res = append(res, map[string]string{"id": id, "name": r.URL.Query().Get("name")})
		}
		ok(res)
	case r.Method == "GET" && len(parts) == 3 && parts[2] == "dns_records":
		res := []cfRecord{}
		for _, rec := range f.records[parts[1]] {
			if rec.Type == r.URL.Query().Get("type") && rec.Name == r.URL.Query().Get("name") {
				res = append(res, rec)
			}
		}
		ok(res)
	case r.Method == "DELETE" && len(parts) == 4 && parts[2] == "dns_records":
		recs := f.records[parts[1]]
		for i, rec := range recs {
			if rec.ID == parts[3] {
				f.records[parts[1]] = append(recs[:i], recs[i+1:]...)
				ok(map[string]string{"id": rec.ID})
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"success": false, "errors": []any{map[string]any{"code": 81044, "message": "Record does not exist."}}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *cfAPIFake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// useCloudflareAPI points the API at f for one test.
func useCloudflareAPI(t *testing.T, f http.Handler) {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	old := cloudflareAPI
	cloudflareAPI = srv.URL + "/client/v4"
	t.Cleanup(func() { cloudflareAPI = old })
}

const (
	zoneA = "023e105f4ecef8ad9ca31a8372d0c353" // example.com, picked at login
	zoneB = "9a7806061c88ada191ed06f989cc3dac" // example.org, another zone
	recID = "372e67954025e0ba6aaa6d586b9e0b59"
)

func TestRemoveDNSRoute(t *testing.T) {
	ours := fakeTunnelID + ".cfargotunnel.com"
	cases := []struct {
		name      string
		host      string
		records   map[string][]cfRecord
		forbidden bool
		envToken  string
		want      DNSRemoval
		wantErr   string
		wantReqs  []string
		wantLeft  int    // records left in the zone the host is in
		wantMsg   string // what Unroute tells the operator
	}{
		{
			name:    "record ours: deleted",
			host:    "hub.example.com",
			records: map[string][]cfRecord{zoneA: {{ID: recID, Type: "CNAME", Name: "hub.example.com", Content: ours}}},
			want:    DNSRemoval{Outcome: DNSDeleted},
			wantReqs: []string{
				"GET /client/v4/zones/" + zoneA + "/dns_records?name=hub.example.com&type=CNAME Bearer cert-token",
				"DELETE /client/v4/zones/" + zoneA + "/dns_records/" + recID + " Bearer cert-token",
			},
			wantMsg: "✓ Removed the DNS record hub.example.com → " + ours + ".\n",
		},
		{
			name:    "record points elsewhere: untouched",
			host:    "hub.example.com",
			records: map[string][]cfRecord{zoneA: {{ID: recID, Type: "CNAME", Name: "hub.example.com", Content: "other.cfargotunnel.com"}}},
			want:    DNSRemoval{Outcome: DNSElsewhere, Content: "other.cfargotunnel.com"},
			wantReqs: []string{
				"GET /client/v4/zones/" + zoneA + "/dns_records?name=hub.example.com&type=CNAME Bearer cert-token",
			},
			wantLeft: 1,
			wantMsg:  "  The DNS record for hub.example.com points to other.cfargotunnel.com, not to this tunnel, so it was left alone.\n",
		},
		{
			name: "no record: nothing to do",
			host: "hub.example.com",
			want: DNSRemoval{Outcome: DNSNotFound},
			wantReqs: []string{
				"GET /client/v4/zones/" + zoneA + "/dns_records?name=hub.example.com&type=CNAME Bearer cert-token",
				"GET /client/v4/zones?name=hub.example.com Bearer cert-token",
				"GET /client/v4/zones?name=example.com Bearer cert-token",
			},
			wantMsg: "  No DNS record for hub.example.com to remove.\n",
		},
		{
			name:     "host in another zone, token from the environment",
			host:     "hub.example.org",
			envToken: "env-token",
			records:  map[string][]cfRecord{zoneB: {{ID: recID, Type: "CNAME", Name: "hub.example.org", Content: ours}}},
			want:     DNSRemoval{Outcome: DNSDeleted},
			wantReqs: []string{
				"GET /client/v4/zones/" + zoneA + "/dns_records?name=hub.example.org&type=CNAME Bearer env-token",
				"GET /client/v4/zones?name=hub.example.org Bearer env-token",
				"GET /client/v4/zones?name=example.org Bearer env-token",
				"GET /client/v4/zones/" + zoneB + "/dns_records?name=hub.example.org&type=CNAME Bearer env-token",
				"DELETE /client/v4/zones/" + zoneB + "/dns_records/" + recID + " Bearer env-token",
			},
			wantMsg: "✓ Removed the DNS record hub.example.org → " + ours + ".\n",
		},
		{
			name:    "zone under a two-label suffix",
			host:    "hub.example.co.uk",
			records: map[string][]cfRecord{zoneB: {{ID: recID, Type: "CNAME", Name: "hub.example.co.uk", Content: ours}}},
			want:    DNSRemoval{Outcome: DNSDeleted},
			wantReqs: []string{
				"GET /client/v4/zones/" + zoneA + "/dns_records?name=hub.example.co.uk&type=CNAME Bearer cert-token",
				"GET /client/v4/zones?name=hub.example.co.uk Bearer cert-token",
				"GET /client/v4/zones?name=example.co.uk Bearer cert-token",
				"GET /client/v4/zones/" + zoneB + "/dns_records?name=hub.example.co.uk&type=CNAME Bearer cert-token",
				"DELETE /client/v4/zones/" + zoneB + "/dns_records/" + recID + " Bearer cert-token",
			},
			wantMsg: "✓ Removed the DNS record hub.example.co.uk → " + ours + ".\n",
		},
		{
			name:      "403: an error the caller turns into instructions",
			host:      "hub.example.com",
			records:   map[string][]cfRecord{zoneA: {{ID: recID, Type: "CNAME", Name: "hub.example.com", Content: ours}}},
			forbidden: true,
			wantErr:   "HTTP 403: Authentication error",
			wantReqs: []string{
				"GET /client/v4/zones/" + zoneA + "/dns_records?name=hub.example.com&type=CNAME Bearer cert-token",
			},
			wantLeft: 1,
			wantMsg: "⚠ The DNS record stays: could not remove it through the Cloudflare API (cloudflare API GET /zones/" + zoneA + "/dns_records: HTTP 403: Authentication error).\n" +
				"  (It needs cert.pem from `cloudflared tunnel login`, or CLOUDFLARE_API_TOKEN with DNS edit rights.)\n" +
				"  Remove the CNAME hub.example.com → " + ours + " at https://dash.cloudflare.com (DNS → Records),\n" +
				"  or keep it to re-expose later with the same tunnel.\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			writeCert(t, home, certPEM(zoneA, "acct", "cert-token"))
			newFake := func() *cfAPIFake {
				f := &cfAPIFake{zones: map[string]string{"example.com": zoneA, "example.org": zoneB, "example.co.uk": zoneB},
					records: map[string][]cfRecord{}, forbidden: c.forbidden}
				for z, recs := range c.records {
					f.records[z] = slices.Clone(recs)
				}
				return f
			}
			f := newFake()
			useCloudflareAPI(t, f)
			env := map[string]string{"CLOUDFLARE_API_TOKEN": c.envToken}
			cf := &Cloudflare{Home: home, Getenv: func(k string) string { return env[k] }}
			got, err := cf.RemoveDNSRoute(context.Background(), c.host, fakeTunnelID)
			if c.wantErr != "" {
				var ae *CloudflareAPIError
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.As(err, &ae) {
					t.Fatalf("err = %v, want a *CloudflareAPIError with %q", err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.wantReqs, f.requests()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			left := 0
			for _, recs := range f.records {
				left += len(recs)
			}
			if left != c.wantLeft {
				t.Errorf("%d records left, want %d", left, c.wantLeft)
			}

			// The same through Unroute, which reports to the operator.
			useCloudflareAPI(t, newFake())
			var msg strings.Builder
			cf.Unroute(context.Background(), state.Tunnel{UUID: fakeTunnelID, Hostname: c.host, DNSRouted: true},
				func(f string, a ...any) { fmt.Fprintf(&msg, f, a...) })
			if diff := cmp.Diff(c.wantMsg, msg.String()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func writeCert(t *testing.T, home, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(home, ".cloudflared"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".cloudflared", "cert.pem"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveDNSRouteWithoutAUsableCert(t *testing.T) {
	f := &cfAPIFake{}
	useCloudflareAPI(t, f)
	for name, body := range map[string]string{
		"no cert":      "",
		"legacy cert":  "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"zone not id":  certPEM("../zones", "a", "t"),
		"unknown type": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			if body != "" {
				writeCert(t, home, body)
			}
			cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
			if _, err := cf.RemoveDNSRoute(context.Background(), "hub.example.com", fakeTunnelID); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("the API was called without a usable cert: %q", r)
	}
}

func TestRemoveDNSRouteRefusesASymlinkedCert(t *testing.T) {
	f := &cfAPIFake{}
	useCloudflareAPI(t, f)
	home, elsewhere := t.TempDir(), t.TempDir()
	target := filepath.Join(elsewhere, "cert.pem")
	if err := os.WriteFile(target, []byte(certPEM(zoneA, "a", "t")), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(home, ".cloudflared"), 0o700)
	if err := os.Symlink(target, filepath.Join(home, ".cloudflared", "cert.pem")); err != nil {
		t.Fatal(err)
	}
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	if _, err := cf.RemoveDNSRoute(context.Background(), "hub.example.com", fakeTunnelID); err == nil {
		t.Fatal("followed a symlinked cert.pem")
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("requests %q", r)
	}
}

func FuzzParseOriginCert(f *testing.F) {
	f.Add([]byte(certPEM(zoneA, "acct", "tok")))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + certPEM(zoneA, "", "tok")))
	f.Add([]byte(certPEM(zoneA, "a", "t") + certPEM(zoneB, "a", "t")))
	f.Add([]byte("-----BEGIN ARGO TUNNEL TOKEN-----\nbm90IGpzb24=\n-----END ARGO TUNNEL TOKEN-----\n"))
	f.Add([]byte(fmt.Sprintf("-----BEGIN ARGO TUNNEL TOKEN-----\n%s\n-----END ARGO TUNNEL TOKEN-----\n",
		base64.StdEncoding.EncodeToString([]byte(`{"zoneID":"a/b?c","apiToken":"t"}`)))))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		oc, err := ParseOriginCert(b)
		if err != nil {
			return
		}
		if oc.APIToken == "" || !safeID(oc.ZoneID) {
			t.Fatalf("accepted %+v", oc)
		}
	})
}

// TestUnrouteLeavesARouteWeDidNotRecord: a tunnel record without
// dnsRouted (a reference-era file) gets instructions and no API call.
func TestUnrouteLeavesARouteWeDidNotRecord(t *testing.T) {
	f := &cfAPIFake{}
	useCloudflareAPI(t, f)
	home := t.TempDir()
	writeCert(t, home, certPEM(zoneA, "a", "t"))
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	var msg strings.Builder
	cf.Unroute(context.Background(), state.Tunnel{UUID: fakeTunnelID, Hostname: "hub.example.com"},
		func(f string, a ...any) { fmt.Fprintf(&msg, f, a...) })
	if !strings.Contains(msg.String(), "parachute has no record of routing DNS for hub.example.com") ||
		!strings.Contains(msg.String(), "Remove the CNAME hub.example.com → "+fakeTunnelID+".cfargotunnel.com") {
		t.Errorf("message:\n%s", msg.String())
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("requests %q", r)
	}
}
