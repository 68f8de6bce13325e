package hub

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"sync"
)

// The pages a browser sees instead of the proxy's JSON errors.

//go:embed pages/proxy.html pages/hub.html
var pageFS embed.FS

// proxyPage is parsed on first use: a package-level template costs every
// CLI verb its parse at start-up (cmd/parachute's TestInitCost).
var proxyPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(pageFS, "pages/proxy.html"))
})

// pageCSS is the pages' only style, inlined so a page is one request even
// when the hub is struggling; the CSP allows exactly this block by hash.
const pageCSS = `body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#222;background:#fafafa}` +
	`main{max-width:32rem;margin:0 auto;padding:2rem 1rem}h1{font-size:1.4rem}` +
	`pre{background:#eee;padding:.75rem;overflow-x:auto;border-radius:4px}a{color:#0b5cad}` +
	`@media (prefers-color-scheme:dark){body{color:#ddd;background:#161616}pre{background:#262626}a{color:#6aa9ff}}`

// pageCSP is the Content-Security-Policy of the pages: nothing may load or
// run but the one style block. Why so strict: the pages carry a module
// name from services.json; even escaped, a page that can run no script and
// load nothing cannot be turned against the hub's origin.
var pageCSP = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
})

// setPageHeaders sets the headers every hub page carries: the strict CSP
// above, no caching, no sniffing and no Referer.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP())
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// retryAfterS is how long a browser waits before reloading a "starting"
// page, and the Retry-After of the JSON answer.
const retryAfterS = 2

// writeProxyPage answers a browser: 503 "starting" (reloads itself after
// Retry-After) or 502 "unreachable" (points at the admin page and the CLI).
func writeProxyPage(w http.ResponseWriter, starting bool, short string) {
	writeProxyPageCode(w, 0, starting, short)
}

// writeProxyPageCode is writeProxyPage with the status of the
// "unreachable" page chosen by the caller (0: 502; 504 for a module that
// did not answer in time).
func writeProxyPageCode(w http.ResponseWriter, code int, starting bool, short string) {
	h := w.Header()
	setPageHeaders(h)
	data := struct {
		Starting bool
		Short    string
		Title    string
		RetryS   int
		CSS      template.CSS
	}{Starting: starting, Short: short, RetryS: retryAfterS, CSS: template.CSS(pageCSS)}
	if code == 0 {
		code = http.StatusBadGateway
	}
	data.Title = short + " is unreachable"
	if starting {
		code = http.StatusServiceUnavailable
		data.Title = short + " is starting"
		h.Set("Retry-After", strconv.Itoa(retryAfterS))
	}
	w.WriteHeader(code)
	_ = proxyPage().Execute(w, data)
}
