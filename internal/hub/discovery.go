package hub

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// publicOrigin is the origin URLs in public documents are built on: the
// configured issuer, else, when the request named one of this hub's own
// hosts, that host as configured, else the loopback origin. The Host
// header itself is never copied into a document: the discovery document
// is public and cacheable by whoever fetched it, and reflecting
// `Host: evil.example` would make the hub hand out URLs that point a
// client (and its bearer tokens) at another server.
func (s *Server) publicOrigin(r *http.Request) string {
	o := s.origins
	if o.Configured != "" {
		return o.Configured
	}
	host := strings.ToLower(r.Host)
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = strings.Trim(host, "[]")
	}
	port := strconv.Itoa(o.Port)
	switch {
	case !o.hostAllowed(host):
	case h == "localhost":
		return "http://localhost:" + port
	case h == "::1":
		return "http://[::1]:" + port
	default:
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
	}
	return o.Loopback()
}

type discoveryService struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Path        string `json:"path"`
	Version     string `json:"version"`
	InfoURL     string `json:"infoUrl"`
	DisplayName string `json:"displayName,omitempty"`
	Tagline     string `json:"tagline,omitempty"`
	UIURL       string `json:"uiUrl,omitempty"`
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

// handleDiscovery serves /.well-known/parachute.json, rebuilt from
// services.json on every request (reference lifecycle.md §7.1).
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	f := s.table.get() // a refused row is not advertised either
	writeJSON(w, http.StatusOK, buildDiscovery(s.publicOrigin(r), f))
}

func buildDiscovery(origin string, f *manifest.File) map[string]any {
	vaults := []discoveryVault{}
	services := []discoveryService{}
	perShort := map[string][]urlVersion{}
	for _, row := range f.Services {
		var mod *manifest.Module
		if row.InstallDir != "" {
			mod, _ = manifest.LoadModule(row.InstallDir) // metadata only; errors skip it
		}
		paths := row.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		if manifest.IsVaultName(row.Name) {
			for _, p := range paths {
				v := discoveryVault{Name: vaultName(row.Name, p), URL: origin + p, Version: row.Version}
				if mod != nil {
					v.ManagementURL = mod.ManagementURL
				}
				vaults = append(vaults, v)
			}
			continue
		}
		p := paths[0]
		ds := discoveryService{Name: row.Name, URL: origin + p, Path: p, Version: row.Version,
			InfoURL:     origin + strings.TrimRight(p, "/") + "/.parachute/info",
			DisplayName: row.DisplayName, Tagline: row.Tagline}
		if mod != nil {
			if mod.DisplayName != "" {
				ds.DisplayName = mod.DisplayName
			}
			switch {
			case strings.HasPrefix(mod.UIURL, "http://") || strings.HasPrefix(mod.UIURL, "https://"):
				ds.UIURL = mod.UIURL
			case strings.HasPrefix(mod.UIURL, "/"):
				ds.UIURL = origin + mod.UIURL
			}
		}
		services = append(services, ds)
		key := strings.TrimPrefix(row.Name, "parachute-")
		perShort[key] = append(perShort[key], urlVersion{URL: ds.URL, Version: row.Version})
	}
	doc := map[string]any{"vaults": vaults, "services": services}
	for k, v := range perShort {
		if k != "vaults" && k != "services" {
			doc[k] = v
		}
	}
	return doc
}

// vaultName is the vault instance name: the /vault/<name> segment, else the
// row-name suffix after parachute-vault-, else "default".
func vaultName(rowName, path string) string {
	if rest, ok := strings.CutPrefix(path, "/vault/"); ok {
		if n, _, _ := strings.Cut(rest, "/"); n != "" {
			return n
		}
	}
	if n, ok := strings.CutPrefix(rowName, "parachute-vault-"); ok && n != "" {
		return n
	}
	return "default"
}
