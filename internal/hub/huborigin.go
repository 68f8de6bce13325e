package hub

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/origin"
	"github.com/openparachute/parachute/internal/settings"
)

// originSetting holds hub_settings.hub_origin in memory. Origins.Setting
// reads it on every issuer lookup (per request and per module start), so
// it must not touch hub.db; PUT /api/settings/hub-origin and the start-up
// load write it.
type originSetting struct{ v atomic.Pointer[string] }

func (o *originSetting) get() string {
	if p := o.v.Load(); p != nil {
		return *p
	}
	return ""
}

func (o *originSetting) set(v string) { o.v.Store(&v) }

// readHubOriginSetting loads the stored hub origin from db (the hub's one
// hub.db pool) before modules boot.
func (s *Server) readHubOriginSetting(ctx context.Context, db *sql.DB) error {
	v, _, err := settings.Get(ctx, db, settings.HubOrigin)
	if err != nil {
		return err
	}
	s.hubOrigin.set(v)
	return nil
}

// hubOriginBody is the JSON of GET and PUT /api/settings/hub-origin, in the
// reference's shape; a null hub_origin means unset.
type hubOriginBody struct {
	HubOrigin      *string `json:"hub_origin"`
	ResolvedIssuer string  `json:"resolved_issuer,omitempty"`
	Source         string  `json:"source,omitempty"`
}

// handleHubOrigin serves GET and PUT /api/settings/hub-origin (admin). The
// method is checked before the token, as on every API route.
func (s *Server) handleHubOrigin(w http.ResponseWriter, r *http.Request) {
	s.getPut(s.admin(s.getHubOrigin), s.admin(s.putHubOrigin))(w, r)
}

func (s *Server) getHubOrigin(w http.ResponseWriter, r *http.Request) error {
	api.WriteJSON(w, http.StatusOK, s.hubOriginView())
	return nil
}

func (s *Server) hubOriginView() hubOriginBody {
	var b hubOriginBody
	if v := s.hubOrigin.get(); v != "" {
		b.HubOrigin = &v
	}
	res := origin.Resolve(s.origins.inputs())
	b.ResolvedIssuer, b.Source = res.URL, originSourceName(res.Source)
	return b
}

// originSourceName is the reference's "source" word for where the issuer
// came from ("settings", "env"), extended with ours ("expose",
// "loopback") where the reference would have used the request's origin.
func originSourceName(src origin.Source) string {
	switch src {
	case origin.SourceSetting:
		return "settings"
	case origin.SourceLoopback:
		return "loopback"
	case origin.SourceExposed:
		return "expose"
	case origin.SourceFlag:
		return "expose --hub-origin"
	default:
		return "env"
	}
}

func (s *Server) putHubOrigin(w http.ResponseWriter, r *http.Request) error {
	var body hubOriginBody
	if err := api.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	a := s.auth.Load()
	if a == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting; retry in a moment")
	}
	v := ""
	if body.HubOrigin != nil {
		v = *body.HubOrigin
	}
	if v == "" {
		if err := settings.Delete(r.Context(), a.DB(), settings.HubOrigin); err != nil {
			return err
		}
	} else {
		if err := checkHubOriginSetting(v); err != nil {
			return err
		}
		if err := settings.Set(r.Context(), a.DB(), settings.HubOrigin, v, s.now()); err != nil {
			return err
		}
	}
	s.hubOrigin.set(v)
	s.log.Info("hub origin setting changed", "hub_origin", v, "issuer", s.origins.Issuer())
	api.WriteJSON(w, http.StatusOK, s.hubOriginView())
	return nil
}

// checkHubOriginSetting accepts exactly an origin: http or https, a host,
// and nothing else — no credentials, path, query, fragment or trailing
// slash (the reference's rule), because the value becomes every token's
// iss and every module's PARACHUTE_HUB_ORIGIN, compared byte for byte.
func checkHubOriginSetting(v string) *api.Error {
	bad := func(why string) *api.Error {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest,
			"hub_origin %q %s; give scheme and host only, e.g. https://hub.example.com", v, why)
	}
	if v != strings.TrimSpace(v) || strings.HasSuffix(v, "/") {
		return bad("has surrounding space or a trailing slash")
	}
	u, err := url.Parse(v)
	if err != nil {
		return bad("is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("is not http or https")
	case u.Host == "" || u.Opaque != "":
		return bad("has no host")
	case u.User != nil:
		return bad("carries credentials")
	case u.Path != "" || u.RawPath != "":
		return bad("has a path")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		return bad("has a query or fragment")
	}
	return nil
}
