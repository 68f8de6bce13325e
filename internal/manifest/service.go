package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Values of Service.PublicExposure.
const (
	// ExposureAllowed mounts the module on every expose layer; it guards itself.
	ExposureAllowed = "allowed"
	// ExposureLoopback keeps the module reachable on 127.0.0.1 only.
	ExposureLoopback = "loopback"
	// ExposureAuthRequired means the module wants auth it may not have configured.
	ExposureAuthRequired = "auth-required"
)

// Service is one row of services.json. The JSON names in the tags are the
// reference hub's and define the output order; Extra carries every member
// this version does not know so a rewrite keeps it.
type Service struct {
	// Name is the manifest name, e.g. "parachute-vault" or a third-party module's name.
	Name string `json:"name"`
	// Port is the loopback port the module listens on; the child gets it as PORT.
	Port int `json:"port"`
	// Paths are the mounts under the hub origin; Paths[0] is the main one.
	Paths []string `json:"paths"`
	// Health is the liveness path, starting with "/".
	Health string `json:"health"`
	// Version is the module version ("0.0.0-linked" for seeded rows).
	Version string `json:"version"`
	// DisplayName is the human label for the hub page.
	DisplayName string `json:"displayName,omitempty"`
	// Tagline is the one-line subtitle for the hub page.
	Tagline string `json:"tagline,omitempty"`
	// PublicExposure is one of the Exposure* values, or empty for the default.
	PublicExposure string `json:"publicExposure,omitempty"`
	// InstallDir is the installed package directory: the child's cwd and the
	// place of .parachute/module.json.
	InstallDir string `json:"installDir,omitempty"`
	// StripPrefix asks the proxy to strip the mount before forwarding.
	StripPrefix *bool `json:"stripPrefix,omitempty"`
	// Uis are the UI sub-units hosted by this module, keyed by slug.
	Uis map[string]UI `json:"uis,omitempty"`
	// LastStartError is the last recorded reason the module failed to start.
	LastStartError *StartError `json:"lastStartError,omitempty"`
	// Supervise overrides the supervisor's crash budget and timeouts (our extension).
	Supervise *SupervisePolicy `json:"supervise,omitempty"`
	// Disabled is reserved for a sticky "stopped" state; not interpreted yet.
	Disabled bool `json:"disabled,omitempty"`

	// Extra holds members this version does not know, verbatim, keyed by
	// JSON name. Members named like a field above are ignored on write.
	Extra map[string]json.RawMessage `json:"-"`
}

// UI sub-unit statuses (canonical values).
const (
	UIStatusActive   = "active"
	UIStatusPending  = "pending"
	UIStatusInactive = "inactive"
	UIStatusFailing  = "failing"
)

// UI is a UI sub-unit of a module (Service.Uis).
type UI struct {
	DisplayName   string `json:"displayName"`
	Path          string `json:"path"`
	Tagline       string `json:"tagline,omitempty"`
	IconURL       string `json:"iconUrl,omitempty"`
	Version       string `json:"version,omitempty"`
	OAuthClientID string `json:"oauthClientId,omitempty"`
	// Status is one of the UIStatus* values, or empty (meaning active).
	// The old aliases "pending-oauth" and "disabled" are normalised on read and write.
	Status string `json:"status,omitempty"`

	// Extra holds members this version does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// NormalizeUIStatus maps the old status aliases to their canonical value
// (pending-oauth→pending, disabled→inactive) and returns anything else as is.
func NormalizeUIStatus(s string) string {
	switch s {
	case "pending-oauth":
		return UIStatusPending
	case "disabled":
		return UIStatusInactive
	}
	return s
}

// StartError records why a module failed to start (services.json
// lastStartError, and the supervisor's startError).
type StartError struct {
	// ErrorType is e.g. "missing_dependency" or "started_but_unbound".
	ErrorType        string `json:"error_type"`
	ErrorDescription string `json:"error_description"`
	Binary           string `json:"binary,omitempty"`
	Why              string `json:"why,omitempty"`
	DocsURL          string `json:"docs_url,omitempty"`
	// Install holds per-platform install hints.
	Install      *StartErrorInstall `json:"install,omitempty"`
	SysadminHint string             `json:"sysadmin_hint,omitempty"`
	// At is when the error was recorded (RFC 3339).
	At string `json:"at,omitempty"`

	// Extra holds members this version does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// StartErrorInstall holds per-platform install hints for a missing dependency.
type StartErrorInstall struct {
	Darwin  string `json:"darwin,omitempty"`
	Linux   string `json:"linux,omitempty"`
	Generic string `json:"generic,omitempty"`
}

// SupervisePolicy overrides the supervisor's defaults for one module. A zero
// field means "use the default".
type SupervisePolicy struct {
	// MaxCrashes is how many crashes within CrashWindowSeconds exhaust the restart budget.
	MaxCrashes int `json:"maxCrashes,omitempty"`
	// CrashWindowSeconds is the sliding window the crash budget counts over.
	CrashWindowSeconds float64 `json:"crashWindowSeconds,omitempty"`
	// StopGraceSeconds is how long stop waits after SIGTERM before SIGKILL.
	StopGraceSeconds float64 `json:"stopGraceSeconds,omitempty"`
	// ReadyTimeoutSeconds is how long start waits for the module to listen.
	ReadyTimeoutSeconds float64 `json:"readyTimeoutSeconds,omitempty"`
	// ResponseHeaderTimeoutSeconds is how long the hub's proxy waits for
	// the module's response headers before it answers 504 (whole seconds,
	// 1..MaxResponseHeaderTimeoutSeconds): a module serving long-polls
	// that hold their headers back raises it. Bodies are never bounded.
	ResponseHeaderTimeoutSeconds int `json:"responseHeaderTimeoutSeconds,omitempty"`

	// Extra holds members this version does not know.
	Extra map[string]json.RawMessage `json:"-"`
}

// CrashWindow returns the crash window, or def when p is nil or unset.
func (p *SupervisePolicy) CrashWindow(def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return seconds(p.CrashWindowSeconds, def)
}

// StopGrace returns the stop grace period, or def when p is nil or unset.
func (p *SupervisePolicy) StopGrace(def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return seconds(p.StopGraceSeconds, def)
}

// ReadyTimeout returns the readiness timeout, or def when p is nil or unset.
func (p *SupervisePolicy) ReadyTimeout(def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return seconds(p.ReadyTimeoutSeconds, def)
}

// MaxResponseHeaderTimeoutSeconds bounds ResponseHeaderTimeoutSeconds: a
// longer wait would let a wedged module hold the hub's connections again.
const MaxResponseHeaderTimeoutSeconds = 3600

// ResponseHeaderTimeout returns the proxy's wait for response headers, or
// def when p is nil or unset.
func (p *SupervisePolicy) ResponseHeaderTimeout(def time.Duration) time.Duration {
	if p == nil || p.ResponseHeaderTimeoutSeconds <= 0 {
		return def
	}
	return time.Duration(p.ResponseHeaderTimeoutSeconds) * time.Second
}

// Crashes returns the crash budget, or def when p is nil or unset.
func (p *SupervisePolicy) Crashes(def int) int {
	if p == nil || p.MaxCrashes <= 0 {
		return def
	}
	return p.MaxCrashes
}

func seconds(v float64, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return time.Duration(v * float64(time.Second))
}

// MarshalJSON writes the known fields in order, then the unknown ones sorted.
func (s Service) MarshalJSON() ([]byte, error) {
	type plain Service
	p := plain(s)
	if p.Paths == nil {
		p.Paths = []string{} // paths is required: never write null
	}
	return marshalWithExtra(p, s.Extra)
}

// UnmarshalJSON decodes a row, checking member types but not the row's
// rules (see Validate). A malformed lastStartError is dropped.
func (s *Service) UnmarshalJSON(data []byte) error {
	v, _, err := decodeService(data)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalJSON writes the known fields with the status normalised, then the
// unknown ones sorted.
func (u UI) MarshalJSON() ([]byte, error) {
	type plain UI
	p := plain(u)
	p.Status = NormalizeUIStatus(p.Status)
	return marshalWithExtra(p, u.Extra)
}

// MarshalJSON writes the known fields, then the unknown ones sorted.
func (e StartError) MarshalJSON() ([]byte, error) {
	type plain StartError
	return marshalWithExtra(plain(e), e.Extra)
}

// MarshalJSON writes the known fields, then the unknown ones sorted.
func (p SupervisePolicy) MarshalJSON() ([]byte, error) {
	type plain SupervisePolicy
	return marshalWithExtra(plain(p), p.Extra)
}

// decodeService decodes one row. warn is non-empty when a malformed
// lastStartError was dropped; err names the offending field.
func decodeService(raw json.RawMessage) (s Service, warn string, err error) {
	m, err := decodeObject(raw)
	if err != nil {
		return Service{}, "", fmt.Errorf("row %w", err)
	}
	d := &fields{m: m}
	s.Name = d.str("name", true)
	s.Port = d.integer("port", true, "1..65535")
	s.Paths = d.strings("paths", true)
	s.Health = d.str("health", true)
	s.Version = d.str("version", true)
	s.DisplayName = d.str("displayName", false)
	s.Tagline = d.str("tagline", false)
	s.PublicExposure = d.str("publicExposure", false)
	s.InstallDir = d.str("installDir", false)
	s.StripPrefix = d.boolPtr("stripPrefix")
	if b := d.boolPtr("disabled"); b != nil {
		s.Disabled = *b
	}
	if raw, ok := d.get("uis"); ok && d.err == nil {
		s.Uis, d.err = decodeUIs(raw)
	}
	if raw, ok := d.get("supervise"); ok && d.err == nil {
		var p SupervisePolicy
		if p, d.err = decodeSupervise(raw); d.err == nil {
			s.Supervise = &p
		}
	}
	if raw, ok := d.get("lastStartError"); ok {
		// Why drop instead of fail: the record is advisory, written by the
		// hub itself, and must never make the module's row unusable.
		if e, err := decodeStartError(raw); err != nil {
			warn = fmt.Sprintf("dropped malformed lastStartError (%v)", err)
		} else {
			s.LastStartError = &e
		}
	}
	if d.err != nil {
		return Service{}, "", d.err
	}
	s.Extra = d.extra(jsonNames(reflect.TypeOf(Service{})))
	return s, warn, nil
}

func decodeUIs(raw json.RawMessage) (map[string]UI, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, &fieldError{Field: "uis", Msg: err.Error()}
	}
	out := make(map[string]UI, len(m))
	for k, v := range m {
		um, err := decodeObject(v)
		if err != nil {
			return nil, &fieldError{Field: fmt.Sprintf("uis[%q]", k), Msg: err.Error()}
		}
		d := &fields{m: um, prefix: fmt.Sprintf("uis[%q].", k)}
		u := UI{
			DisplayName:   d.str("displayName", true),
			Path:          d.str("path", true),
			Tagline:       d.str("tagline", false),
			IconURL:       d.str("iconUrl", false),
			Version:       d.str("version", false),
			OAuthClientID: d.str("oauthClientId", false),
			Status:        NormalizeUIStatus(d.str("status", false)),
			Extra:         d.extra(jsonNames(reflect.TypeOf(UI{}))),
		}
		if d.err != nil {
			return nil, d.err
		}
		out[k] = u
	}
	return out, nil
}

func decodeStartError(raw json.RawMessage) (StartError, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return StartError{}, err
	}
	d := &fields{m: m}
	e := StartError{
		ErrorType:        d.str("error_type", true),
		ErrorDescription: d.str("error_description", true),
		Binary:           d.str("binary", false),
		Why:              d.str("why", false),
		DocsURL:          d.str("docs_url", false),
		SysadminHint:     d.str("sysadmin_hint", false),
		At:               d.str("at", false),
		Extra:            d.extra(jsonNames(reflect.TypeOf(StartError{}))),
	}
	if raw, ok := d.get("install"); ok && d.err == nil {
		im, err := decodeObject(raw)
		if err != nil {
			return StartError{}, &fieldError{Field: "install", Msg: err.Error()}
		}
		id := &fields{m: im, prefix: "install."}
		e.Install = &StartErrorInstall{
			Darwin:  id.str("darwin", false),
			Linux:   id.str("linux", false),
			Generic: id.str("generic", false),
		}
		d.err = id.err
	}
	if d.err != nil {
		return StartError{}, d.err
	}
	return e, e.validate()
}

func decodeSupervise(raw json.RawMessage) (SupervisePolicy, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return SupervisePolicy{}, &fieldError{Field: "supervise", Msg: err.Error()}
	}
	d := &fields{m: m, prefix: "supervise."}
	p := SupervisePolicy{
		MaxCrashes: d.integer("maxCrashes", false, ">= 0"),
		Extra:      d.extra(jsonNames(reflect.TypeOf(SupervisePolicy{}))),
	}
	p.CrashWindowSeconds, _ = d.number("crashWindowSeconds", false)
	p.StopGraceSeconds, _ = d.number("stopGraceSeconds", false)
	p.ReadyTimeoutSeconds, _ = d.number("readyTimeoutSeconds", false)
	// Why 0 is refused (unlike the fields above): it would read as "no
	// bound", which is what this field must never give.
	rng := fmt.Sprintf("1..%d", MaxResponseHeaderTimeoutSeconds)
	if _, present := d.get("responseHeaderTimeoutSeconds"); present {
		v := d.integer("responseHeaderTimeoutSeconds", false, rng)
		if d.err == nil && (v < 1 || v > MaxResponseHeaderTimeoutSeconds) {
			d.fail("responseHeaderTimeoutSeconds", "must be an integer %s, got %d", rng, v)
		}
		p.ResponseHeaderTimeoutSeconds = v
	}
	return p, d.err
}

// Validate checks the row's rules: a non-empty name, a port in 1..65535, a
// health path starting with "/", and well-formed optional parts.
func (s *Service) Validate() error {
	switch {
	case s.Name == "":
		return &fieldError{Field: "name", Msg: "must be a non-empty string"}
	case s.Port < 1 || s.Port > 65535:
		return &fieldError{Field: "port", Msg: fmt.Sprintf("must be an integer 1..65535, got %d", s.Port)}
	case !strings.HasPrefix(s.Health, "/"):
		return &fieldError{Field: "health", Msg: fmt.Sprintf("must be a path starting with \"/\", got %q", s.Health)}
	}
	switch s.PublicExposure {
	case "", ExposureAllowed, ExposureLoopback, ExposureAuthRequired:
	default:
		return &fieldError{Field: "publicExposure", Msg: fmt.Sprintf(
			"must be %q, %q or %q, got %q", ExposureAllowed, ExposureLoopback, ExposureAuthRequired, s.PublicExposure)}
	}
	for k, u := range s.Uis {
		if err := u.validate(k); err != nil {
			return err
		}
	}
	if s.LastStartError != nil {
		if err := s.LastStartError.validate(); err != nil {
			return &fieldError{Field: "lastStartError." + err.(*fieldError).Field, Msg: err.(*fieldError).Msg}
		}
	}
	if p := s.Supervise; p != nil {
		for _, f := range []struct {
			name string
			v    float64
		}{
			{"maxCrashes", float64(p.MaxCrashes)},
			{"crashWindowSeconds", p.CrashWindowSeconds},
			{"stopGraceSeconds", p.StopGraceSeconds},
			{"readyTimeoutSeconds", p.ReadyTimeoutSeconds},
		} {
			if f.v < 0 {
				return &fieldError{Field: "supervise." + f.name, Msg: fmt.Sprintf("must be >= 0 (0 means the default), got %v", f.v)}
			}
		}
	}
	return nil
}

func (u UI) validate(key string) error {
	where := fmt.Sprintf("uis[%q]", key)
	switch {
	case key == "":
		return &fieldError{Field: "uis", Msg: "keys must be non-empty strings"}
	case u.DisplayName == "":
		return &fieldError{Field: where + ".displayName", Msg: "must be a non-empty string"}
	case !strings.HasPrefix(u.Path, "/"):
		return &fieldError{Field: where + ".path", Msg: fmt.Sprintf("must be a path starting with \"/\", got %q", u.Path)}
	}
	switch NormalizeUIStatus(u.Status) {
	case "", UIStatusActive, UIStatusPending, UIStatusInactive, UIStatusFailing:
		return nil
	}
	return &fieldError{Field: where + ".status", Msg: fmt.Sprintf("must be active, pending, inactive or failing, got %q", u.Status)}
}

func (e *StartError) validate() error {
	switch {
	case e.ErrorType == "":
		return &fieldError{Field: "error_type", Msg: "must be a non-empty string"}
	case e.ErrorDescription == "":
		return &fieldError{Field: "error_description", Msg: "must be a non-empty string"}
	}
	return nil
}
