package hub

import (
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/openparachute/parachute/internal/manifest"
)

// The discovery page (/hub.html, and / for a browser): the reference's
// hub.html, server-rendered from the discovery document instead of
// fetched by script, so it works under the pages' no-script CSP.

// hubPage is parsed on first use (see proxyPage).
var hubPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(pageFS, "pages/hub.html"))
})

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
	setPageHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	_ = hubPage().Execute(w, struct {
		CSS      template.CSS
		Services []hubPageEntry
	}{template.CSS(pageCSS), entries})
}
