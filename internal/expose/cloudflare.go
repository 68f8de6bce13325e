package expose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/lazyre"
)

// Cloudflare drives the cloudflared CLI.
type Cloudflare struct {
	// Run runs cloudflared; nil means servicemgr.ExecRunner.
	Run Runner
	// Bin is the program; "" means "cloudflared" on PATH.
	Bin string
	// Home is the user's home directory (~/.cloudflared holds cert.pem and
	// the tunnel credentials).
	Home string
	// Getenv reads TUNNEL_ORIGIN_CERT; nil means os.Getenv.
	Getenv func(string) string
}

// ErrCloudflaredNotLoggedIn means there is no origin certificate.
var ErrCloudflaredNotLoggedIn = errors.New("cloudflared is not logged in")

func (c *Cloudflare) runner() Runner {
	if c.Run != nil {
		return c.Run
	}
	return defaultRunner
}

func (c *Cloudflare) bin() string {
	if c.Bin != "" {
		return c.Bin
	}
	return "cloudflared"
}

// CertPath is the origin certificate `cloudflared tunnel login` writes:
// $TUNNEL_ORIGIN_CERT, else ~/.cloudflared/cert.pem.
func (c *Cloudflare) CertPath() string {
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("TUNNEL_ORIGIN_CERT"); p != "" {
		return p
	}
	return filepath.Join(c.Home, ".cloudflared", "cert.pem")
}

// CredentialsPath is where `cloudflared tunnel create` writes a tunnel's
// credentials.
func (c *Cloudflare) CredentialsPath(uuid string) string {
	return filepath.Join(c.Home, ".cloudflared", uuid+".json")
}

// Readiness reports whether cloudflared is installed and logged in.
func (c *Cloudflare) Readiness(ctx context.Context) (installed, loggedIn bool, err error) {
	if _, err := run(ctx, c.runner(), c.bin(), "--version"); err != nil {
		if errors.Is(err, ErrNotInstalled) {
			return false, false, nil
		}
		return false, false, err
	}
	_, statErr := os.Stat(c.CertPath())
	return true, statErr == nil, nil
}

// TunnelInfo is one row of `cloudflared tunnel list --output json`.
type TunnelInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ListTunnels runs `cloudflared tunnel list --output json`. Rows without
// an id or a name are skipped.
func (c *Cloudflare) ListTunnels(ctx context.Context) ([]TunnelInfo, error) {
	out, err := run(ctx, c.runner(), c.bin(), "tunnel", "list", "--output", "json")
	if err != nil {
		return nil, err
	}
	var rows []TunnelInfo
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("reading `cloudflared tunnel list --output json`: %w", err)
	}
	var keep []TunnelInfo
	for _, r := range rows {
		if r.ID != "" && r.Name != "" {
			keep = append(keep, r)
		}
	}
	return keep, nil
}

var uuidRE = &lazyre.Regexp{Expr: `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`}

// CreateTunnel runs `cloudflared tunnel create <name>` and returns the new
// tunnel's UUID, read from its output.
func (c *Cloudflare) CreateTunnel(ctx context.Context, name string) (string, error) {
	out, err := run(ctx, c.runner(), c.bin(), "tunnel", "create", name)
	if err != nil {
		return "", err
	}
	id := uuidRE.Compiled().FindString(strings.ToLower(out))
	if id == "" {
		return "", fmt.Errorf("`cloudflared tunnel create %s` printed no tunnel id: %q", name, firstLine(out))
	}
	return id, nil
}

// RouteDNSArgv is the argv that points hostname at the tunnel (an
// idempotent upsert of a proxied CNAME to <uuid>.cfargotunnel.com).
func (c *Cloudflare) RouteDNSArgv(name, hostname string) []string {
	return []string{c.bin(), "tunnel", "route", "dns", "--overwrite-dns", name, hostname}
}

// ConnectorArgv runs the tunnel's connector from its config file.
func ConnectorArgv(bin, configPath string) []string {
	return []string{bin, "tunnel", "--config", configPath, "run"}
}

// labelRE is one label of a host name.
var labelRE = &lazyre.Regexp{Expr: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`}

// ValidTunnelName is state.ValidTunnelName: the rule lives beside the
// state file so the hub's connector applies the same one.
func ValidTunnelName(n string) bool { return state.ValidTunnelName(n) }

// ValidHostname reports whether h is a DNS name with at least two labels.
func ValidHostname(h string) bool {
	h = strings.ToLower(h)
	if len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// DeriveTunnelName is the per-machine tunnel name for hostname:
// "parachute-" + the hostname lowercased with dots as dashes and anything
// outside [a-z0-9_-] dropped; past 64 characters the body is cut and an
// 8-hex FNV-1a hash of the full hostname appended, so distinct long names
// do not collide (reference §6.8).
func DeriveTunnelName(hostname string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(hostname) {
		switch {
		case r == '.':
			b.WriteByte('-')
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		}
	}
	name := "parachute-" + b.String()
	if len(name) <= 64 {
		return strings.TrimRight(name, "-_")
	}
	h := fnv.New32a()
	h.Write([]byte(hostname))
	suffix := fmt.Sprintf("-%08x", h.Sum32())
	return strings.TrimRight(name[:64-len(suffix)], "-_") + suffix
}

// ConfigYAML renders the tunnel's config.yml: the whole hub behind
// hostname, everything else 404. Paths are double-quoted (a home with a
// space) with \ and " escaped.
func ConfigYAML(uuid, credentialsPath, hostname string, hubPort int) []byte {
	q := func(s string) string {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	return []byte("# Generated by parachute expose public --cloudflare — do not edit by hand.\n" +
		"# Re-run `parachute expose public --cloudflare --domain " + hostname + "` to change it.\n" +
		"tunnel: " + uuid + "\n" +
		"credentials-file: " + q(credentialsPath) + "\n" +
		"ingress:\n" +
		"  - hostname: " + hostname + "\n" +
		"    service: http://localhost:" + strconv.Itoa(hubPort) + "\n" +
		"  - service: http_status:404\n")
}
