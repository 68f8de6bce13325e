package expose

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/secfile"
)

// cloudflareAPI is the Cloudflare v4 API. Only tests change it (to an
// httptest server); nothing an operator sets can redirect the API token.
var cloudflareAPI = "https://api.cloudflare.com/client/v4"

// cloudflareHTTP is the client for the Cloudflare API: bounded, so an
// unreachable API degrades `off` to instructions instead of hanging it.
var cloudflareHTTP = &http.Client{Timeout: 20 * time.Second}

// OriginCert is what the API needs from the origin certificate
// `cloudflared tunnel login` writes: the zone picked at login and a token
// scoped to it.
type OriginCert struct {
	ZoneID    string
	AccountID string
	APIToken  string
}

// maxCert caps what is read of cert.pem: a real one is under 4 KiB.
const maxCert = 64 << 10

// ParseOriginCert reads the "ARGO TUNNEL TOKEN" PEM block of an origin
// certificate, whose payload is JSON {zoneID, accountID, apiToken}. It
// follows cloudflared's own decoder (credentials/origin_cert.go): legacy
// "PRIVATE KEY" and "CERTIFICATE" blocks are skipped, any other block or a
// second token is an error, and a zone id and a token are required. The
// bytes are untrusted (a file in the home directory).
func ParseOriginCert(b []byte) (OriginCert, error) {
	var oc OriginCert
	found := false
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY", "CERTIFICATE":
		case "ARGO TUNNEL TOKEN":
			if found {
				return OriginCert{}, errors.New("the origin certificate holds more than one tunnel token")
			}
			found = true
			var tok struct {
				ZoneID    string `json:"zoneID"`
				AccountID string `json:"accountID"`
				APIToken  string `json:"apiToken"`
			}
			if err := json.Unmarshal(block.Bytes, &tok); err != nil {
				return OriginCert{}, fmt.Errorf("the origin certificate's tunnel token is not JSON: %w", err)
			}
			oc = OriginCert{ZoneID: tok.ZoneID, AccountID: tok.AccountID, APIToken: tok.APIToken}
		default:
			return OriginCert{}, fmt.Errorf("unknown block %q in the origin certificate", block.Type)
		}
	}
	if oc.ZoneID == "" || oc.APIToken == "" {
		return OriginCert{}, errors.New("the origin certificate has no zone id or API token (re-run `cloudflared tunnel login`)")
	}
	if !safeID(oc.ZoneID) {
		return OriginCert{}, fmt.Errorf("the origin certificate's zone id %q is not an id", oc.ZoneID)
	}
	return oc, nil
}

// safeID reports whether s can go into a URL path as one segment: the
// zone and record ids are hex, and nothing from a file or a response may
// add a path segment or a query.
func safeID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// DNSOutcome is what RemoveDNSRoute did.
type DNSOutcome int

// The outcomes.
const (
	// DNSDeleted: the CNAME pointed at our tunnel and is gone.
	DNSDeleted DNSOutcome = iota
	// DNSNotFound: there is no CNAME for the host; nothing to do.
	DNSNotFound
	// DNSElsewhere: the CNAME points somewhere else (someone changed it
	// since); it was left alone.
	DNSElsewhere
)

// DNSRemoval reports RemoveDNSRoute's work.
type DNSRemoval struct {
	Outcome DNSOutcome
	// Content is the record's target when it was left alone.
	Content string
}

// CloudflareAPIError is a Cloudflare API request that failed.
type CloudflareAPIError struct {
	Method, Path string
	Status       int
	Msg          string
}

func (e *CloudflareAPIError) Error() string {
	return fmt.Sprintf("cloudflare API %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Msg)
}

// RemoveDNSRoute deletes the proxied CNAME hostname → <uuid>.cfargotunnel.com
// that `cloudflared tunnel route dns` made, which cloudflared itself cannot
// delete (cloudflare/cloudflared#781). It uses the API token of the origin
// certificate (CLOUDFLARE_API_TOKEN overrides it) and looks in the
// certificate's zone first, then in the account's zone that holds the host.
// A record is deleted only when its content is exactly our tunnel's
// target: a record pointing anywhere else is not ours and is kept.
func (c *Cloudflare) RemoveDNSRoute(ctx context.Context, hostname, uuid string) (DNSRemoval, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	path := c.CertPath()
	// secfile refuses symlinks: the token is a credential, and a link
	// planted in ~/.cloudflared must not make us read (and send) another file.
	b, err := secfile.ReadFile(path)
	if err != nil {
		return DNSRemoval{}, fmt.Errorf("reading the origin certificate %s: %w", path, err)
	}
	if len(b) > maxCert {
		return DNSRemoval{}, fmt.Errorf("the origin certificate %s is larger than %d bytes", path, maxCert)
	}
	oc, err := ParseOriginCert(b)
	if err != nil {
		return DNSRemoval{}, fmt.Errorf("%s: %w", path, err)
	}
	api := &cfAPI{token: oc.APIToken}
	if t := strings.TrimSpace(getenv("CLOUDFLARE_API_TOKEN")); t != "" {
		api.token = t
	}
	host := strings.ToLower(hostname)
	want := strings.ToLower(uuid) + ".cfargotunnel.com"

	recs, err := api.cnames(ctx, oc.ZoneID, host)
	if err != nil {
		return DNSRemoval{}, err
	}
	zone := oc.ZoneID
	if len(recs) == 0 {
		// The host may be in another zone of the account than the one
		// picked at login.
		other, err := api.zoneOf(ctx, host)
		if err != nil {
			return DNSRemoval{}, err
		}
		if other == "" || other == oc.ZoneID {
			return DNSRemoval{Outcome: DNSNotFound}, nil
		}
		zone = other
		if recs, err = api.cnames(ctx, zone, host); err != nil {
			return DNSRemoval{}, err
		}
	}
	res := DNSRemoval{Outcome: DNSNotFound}
	for _, r := range recs {
		if !strings.EqualFold(r.Name, host) || r.Type != "CNAME" {
			continue
		}
		if !strings.EqualFold(r.Content, want) || !safeID(r.ID) {
			res = DNSRemoval{Outcome: DNSElsewhere, Content: r.Content}
			continue
		}
		if err := api.do(ctx, http.MethodDelete, "/zones/"+zone+"/dns_records/"+r.ID, nil, nil); err != nil {
			return DNSRemoval{}, err
		}
		return DNSRemoval{Outcome: DNSDeleted}, nil
	}
	return res, nil
}

// Unroute removes the DNS route `expose` made for t (RemoveDNSRoute) and
// tells the operator what happened. Any failure (no usable cert.pem, a
// token without DNS edit rights, no network) leaves the record and says
// how to remove it by hand; it is not an error: the exposure itself is
// already gone, and a stale CNAME only answers 530 until it is removed.
func (c *Cloudflare) Unroute(ctx context.Context, t state.Tunnel, logf Logf) {
	target := t.UUID + ".cfargotunnel.com"
	manual := fmt.Sprintf("  Remove the CNAME %s → %s at https://dash.cloudflare.com (DNS → Records),\n"+
		"  or keep it to re-expose later with the same tunnel.\n", t.Hostname, target)
	if !t.DNSRouted {
		logf("  parachute has no record of routing DNS for %s, so it left the DNS alone.\n%s", t.Hostname, manual)
		return
	}
	res, err := c.RemoveDNSRoute(ctx, t.Hostname, t.UUID)
	switch {
	case err != nil:
		logf("⚠ The DNS record stays: could not remove it through the Cloudflare API (%v).\n"+
			"  (It needs cert.pem from `cloudflared tunnel login`, or CLOUDFLARE_API_TOKEN with DNS edit rights.)\n%s", err, manual)
	case res.Outcome == DNSDeleted:
		logf("✓ Removed the DNS record %s → %s.\n", t.Hostname, target)
	case res.Outcome == DNSElsewhere:
		logf("  The DNS record for %s points to %s, not to this tunnel, so it was left alone.\n", t.Hostname, res.Content)
	default:
		logf("  No DNS record for %s to remove.\n", t.Hostname)
	}
}

// cfAPI is one run's Cloudflare API client.
type cfAPI struct{ token string }

type cfRecord struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

// cnames lists the CNAME records named host in zone.
func (a *cfAPI) cnames(ctx context.Context, zone, host string) ([]cfRecord, error) {
	var recs []cfRecord
	q := url.Values{"type": {"CNAME"}, "name": {host}}
	err := a.do(ctx, http.MethodGet, "/zones/"+zone+"/dns_records", q, &recs)
	return recs, err
}

// zoneOf is the id of the account's zone that holds host: the longest
// suffix of host (of at least two labels) that is a zone, so
// hub.example.co.uk finds example.co.uk and a delegated sub-zone wins
// over its parent. "" if none.
func (a *cfAPI) zoneOf(ctx context.Context, host string) (string, error) {
	labels := strings.Split(host, ".")
	for i := 0; i+2 <= len(labels); i++ {
		id, err := a.zoneByName(ctx, strings.Join(labels[i:], "."))
		if err != nil || id != "" {
			return id, err
		}
	}
	return "", nil
}

// zoneByName is the id of the account's zone called name, "" if none.
func (a *cfAPI) zoneByName(ctx context.Context, name string) (string, error) {
	var zones []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := a.do(ctx, http.MethodGet, "/zones", url.Values{"name": {name}}, &zones); err != nil {
		return "", err
	}
	for _, z := range zones {
		if strings.EqualFold(z.Name, name) && safeID(z.ID) {
			return z.ID, nil
		}
	}
	return "", nil
}

// maxAPIBody caps a response: a record list for one name is small.
const maxAPIBody = 1 << 20

// do sends one request and decodes the envelope's result into out.
func (a *cfAPI) do(ctx context.Context, method, path string, q url.Values, out any) error {
	u := cloudflareAPI + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("cloudflare API %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	resp, err := cloudflareHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cloudflare API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return fmt.Errorf("cloudflare API %s %s: reading the answer: %w", method, path, err)
	}
	var env struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Result json.RawMessage `json:"result"`
	}
	jsonErr := json.Unmarshal(body, &env)
	if resp.StatusCode/100 != 2 || jsonErr != nil || !env.Success {
		msg := strings.TrimSpace(string(bytes.ToValidUTF8(body[:min(len(body), 200)], nil)))
		if len(env.Errors) > 0 {
			msg = env.Errors[0].Message
		}
		return &CloudflareAPIError{Method: method, Path: path, Status: resp.StatusCode, Msg: msg}
	}
	if out != nil && len(env.Result) > 0 {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("cloudflare API %s %s: unexpected result: %w", method, path, err)
		}
	}
	return nil
}
