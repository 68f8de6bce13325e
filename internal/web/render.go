package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "login_2fa", "account", "change_password", "account_2fa", "error", "setup"}

// page is the data every template gets; each page reads the fields it needs.
type page struct {
	Title    string
	CSRF     string
	Error    string
	Notice   string
	Next     string
	Username string
	// Account and 2FA fields.
	TOTPEnrolled bool
	BackupLeft   int
	QR           template.URL // data: URL of the QR SVG
	Secret       string
	BackupCodes  []string
	MustChange   bool
	// Vaults the user may mint tokens for, and the token just minted
	// (shown once).
	Vaults []vaultView
	Minted *mintedToken
	// Setup wizard: the username typed (not Username, which the layout
	// shows as the signed-in user) and whether the token field shows.
	SetupUsername     string
	BootstrapRequired bool
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing page %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

// render writes page name with status, filling in the CSRF token.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.CSRF == "" {
		tok, err := h.sess.CSRFToken(w, r)
		if err != nil {
			h.log.Error("minting a CSRF token", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		p.CSRF = tok
	}
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, p); err != nil {
		h.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
