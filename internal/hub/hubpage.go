package hub

import (
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/setupgate"
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
	// The reference's fresh-hub funnel: with no account yet the page has
	// nothing to offer, and the owner at the browser needs /admin/setup.
	// 302 so it ends with the first account (the gate remembers that).
	// Unlike the reference, an installed vault is not required: the
	// vault step is `parachute install vault` here, not a wizard page.
	if p := s.web.Load(); p != nil && p.setup != nil {
		if need, err := p.setup.NeedsSetup(r.Context()); err == nil && need {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, setupgate.SetupPath, http.StatusFound)
			return
		}
	}
	doc := buildDiscovery(s.publicOrigin(r), s.table.get())
	var entries []hubPageEntry
	for _, sv := range doc["services"].([]discoveryService) {
		e := hubPageEntry{Label: sv.DisplayName, Tagline: sv.Tagline, Link: sv.URL}
		if e.Label == "" {
			e.Label = strings.TrimPrefix(sv.Name, "parachute-")
		}
		if manifest.IsVaultName(sv.Name) {
			e.Label += " (" + manifest.VaultInstanceName(sv.Name, sv.Path) + ")"
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
