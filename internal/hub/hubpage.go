package hub

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/openparachute/parachute/internal/manifest"
)

// The discovery page (/hub.html, and / for a browser): the reference's
// hub.html, server-rendered from the discovery document instead of
// fetched by script, so it works under the pages' no-script CSP.

var hubPage = template.Must(template.ParseFS(pageFS, "pages/hub.html"))

type hubPageEntry struct {
	Label, Tagline string
	Link           string // an http(s) URL from the discovery document
}

// handleHubPage serves the discovery page.
func (s *Server) handleHubPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	doc := buildDiscovery(s.publicOrigin(r), s.table.get())
	var entries []hubPageEntry
	for _, sv := range doc["services"].([]discoveryService) {
		e := hubPageEntry{Label: sv.DisplayName, Tagline: sv.Tagline, Link: sv.URL}
		if e.Label == "" {
			e.Label = strings.TrimPrefix(sv.Name, "parachute-")
		}
		if manifest.IsVaultName(sv.Name) {
			e.Label += " (" + vaultName(sv.Name, sv.Path) + ")"
		}
		if sv.UIURL != "" {
			e.Link = sv.UIURL
		}
		entries = append(entries, e)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_ = hubPage.Execute(w, struct {
		CSS      template.CSS
		Services []hubPageEntry
	}{template.CSS(pageCSS), entries})
}
