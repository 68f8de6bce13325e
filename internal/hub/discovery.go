package hub

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/origin"
)

// publicOrigin is the origin URLs in public documents are built on: the
// hub origin (origin.Resolve) when an operator, an admin or the
// environment chose it (`expose --hub-origin`, hub_settings.hub_origin,
// PARACHUTE_HUB_ORIGIN, RENDER_EXTERNAL_URL, FLY_APP_NAME); else, when the request named one of this hub's own hosts,
// that host as configured (an exposure's origin for a request that came
// through Tailscale Serve or a Cloudflare Tunnel, the loopback spelling it
// used on the box); else the hub origin (the exposed one, or loopback).
// The Host header itself is never copied into a document: the discovery
// document is public and cacheable by whoever fetched it, and reflecting
// `Host: evil.example` would make the hub hand out URLs that point a
// client (and its bearer tokens) at another server.
func (s *Server) publicOrigin(r *http.Request) string {
	o := s.origins
	in := o.inputs()
	res := origin.Resolve(in)
	switch res.Source {
	case origin.SourceExposed, origin.SourceLoopback:
	default:
		return res.URL
	}
	host := strings.ToLower(r.Host)
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = strings.Trim(host, "[]")
	}
	port := strconv.Itoa(o.Port)
	if !o.hostAllowed(host) {
		return res.URL
	}
	// Tailscale Serve and cloudflared pass the public Host through; the
	// exposure's recorded origin (https) is what the client reached.
	for _, e := range in.Exposed {
		if u, err := url.Parse(e); err == nil && (strings.EqualFold(u.Host, host) || strings.EqualFold(u.Hostname(), h)) {
			return e
		}
	}
	switch h {
	case "localhost":
		return "http://localhost:" + port
	case "::1":
		return "http://[::1]:" + port
	case "127.0.0.1":
		return o.Loopback()
	}
	for _, x := range o.ExtraHosts {
		if x == host || x == h {
			// A tailnet or LAN name the operator allowed; behind a
			// TLS-terminating proxy (tailscale serve) it is https.
			scheme := "http"
			if strings.EqualFold(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]), "https") {
				scheme = "https"
			}
			return scheme + "://" + x
		}
	}
	return res.URL
}

// The discovery document's entries, in the reference's shape and member
// order (well-known.ts at 3acd645; testdata/discovery/README.md maps every
// member to its source).
type discoveryService struct {
	Name        string        `json:"name"`
	URL         string        `json:"url"`
	Path        string        `json:"path"`
	Version     string        `json:"version"`
	InfoURL     string        `json:"infoUrl"`
	DisplayName string        `json:"displayName,omitempty"`
	Tagline     string        `json:"tagline,omitempty"`
	UIURL       string        `json:"uiUrl,omitempty"`
	Uis         []discoveryUI `json:"uis,omitempty"`
}

// discoveryUI is one UI sub-unit of a module: its services.json uis map
// entry with the key promoted to name and the path resolved to a URL.
type discoveryUI struct {
	Name          string `json:"name"`
	DisplayName   string `json:"displayName"`
	Path          string `json:"path"`
	URL           string `json:"url"`
	Tagline       string `json:"tagline,omitempty"`
	IconURL       string `json:"iconUrl,omitempty"`
	Version       string `json:"version,omitempty"`
	OAuthClientID string `json:"oauthClientId,omitempty"`
	Status        string `json:"status,omitempty"`
}

type discoveryVault struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Version       string `json:"version"`
	ManagementURL string `json:"managementUrl,omitempty"`
}

type urlVersion struct {
	URL     string `json:"url"`
	Version string `json:"version"`
}

// handleDiscovery serves /.well-known/parachute.json, rebuilt from the
// cached routable rows of services.json (routes.go) and each module's
// module.json on every request (reference lifecycle.md §7.1).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	f := s.table.get() // a refused row is not advertised either
	api.WriteJSON(w, http.StatusOK, buildDiscovery(s.publicOrigin(r), f))
}

// buildDiscovery is the reference's buildWellKnown: every row becomes a
// services entry (a vault row one per mount, since each is an instance),
// vault rows also become vaults entries, and every other row also appears
// under its short name. URLs are on origin.
func buildDiscovery(origin string, f *manifest.File) map[string]any {
	origin = strings.TrimRight(origin, "/")
	vaults := []discoveryVault{}
	services := []discoveryService{}
	perShort := map[string][]urlVersion{}
	for _, row := range f.Services {
		var mod *manifest.Module
		if row.InstallDir != "" {
			mod, _ = manifest.LoadModule(row.InstallDir) // metadata only; errors skip it
		}
		isVault := manifest.IsVaultName(row.Name)
		paths := row.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		if !isVault {
			paths = paths[:1] // further paths of a module are aliases
		}
		for _, p := range paths {
			ds := discoveryService{Name: row.Name, URL: origin + p, Path: p, Version: row.Version,
				InfoURL:     origin + strings.TrimRight(p, "/") + "/.parachute/info",
				DisplayName: row.DisplayName, Tagline: row.Tagline, Uis: discoveryUIs(origin, row.Uis)}
			if mod != nil {
				if mod.DisplayName != "" {
					ds.DisplayName = mod.DisplayName
				}
				ds.UIURL = discoveryUIURL(origin, mod.UIURL, p, isVault)
			}
			services = append(services, ds)
			if isVault {
				v := discoveryVault{Name: manifest.VaultInstanceName(row.Name, p), URL: ds.URL, Version: row.Version}
				if mod != nil {
					v.ManagementURL = mod.ManagementURL
				}
				vaults = append(vaults, v)
				continue
			}
			key := strings.TrimPrefix(row.Name, "parachute-")
			perShort[key] = append(perShort[key], urlVersion{URL: ds.URL, Version: row.Version})
		}
	}
	doc := map[string]any{"vaults": vaults, "services": services}
	for k, v := range perShort {
		// Why the guard: the reference let a module named
		// "parachute-services" replace the services list.
		if k != "vaults" && k != "services" {
			doc[k] = v
		}
	}
	return doc
}

// discoveryUIURL resolves a module.json uiUrl: an http(s) URL verbatim; a
// path on the origin, under the instance's mount for a vault (its uiUrl is
// per instance, "/admin/" → /vault/<name>/admin/). A vault uiUrl that is not
// a path is dropped, as in the reference.
func discoveryUIURL(origin, raw, mount string, isVault bool) string {
	lower := strings.ToLower(raw)
	switch {
	case raw == "":
		return ""
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		return raw
	case isVault && !strings.HasPrefix(raw, "/"):
		return ""
	case isVault:
		return origin + strings.TrimRight(mount, "/") + raw
	}
	return joinOrigin(origin, raw)
}

// discoveryUIs turns the uis map into the document's array, ordered by
// name (the reference kept the file's order; Go's map has none).
func discoveryUIs(origin string, uis map[string]manifest.UI) []discoveryUI {
	out := make([]discoveryUI, 0, len(uis))
	for name, u := range uis {
		d := discoveryUI{Name: name, DisplayName: u.DisplayName, Path: u.Path, URL: joinOrigin(origin, u.Path),
			Tagline: u.Tagline, Version: u.Version, OAuthClientID: u.OAuthClientID, Status: u.Status}
		if l := strings.ToLower(u.IconURL); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
			d.IconURL = u.IconURL
		} else if u.IconURL != "" {
			d.IconURL = joinOrigin(origin, u.IconURL)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b discoveryUI) int { return strings.Compare(a.Name, b.Name) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// joinOrigin puts a path on the origin ("/x" and "x" both give origin/x),
// as new URL(path, origin + "/") does for the paths modules declare.
func joinOrigin(origin, p string) string {
	return origin + "/" + strings.TrimLeft(p, "/")
}
