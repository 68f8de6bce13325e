package hub

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/supervisor"
)

// healthTimeout bounds one module health probe in GET /api/modules.
const healthTimeout = time.Second

// probeTransport keeps one idle connection per module for health probes,
// so a status poll does not pay a TCP handshake per module every time.
// Idle connections close after 30 s; no proxy is ever consulted.
var probeTransport = &http.Transport{
	Proxy:               nil,
	MaxIdleConnsPerHost: 1,
	IdleConnTimeout:     30 * time.Second,
	DisableCompression:  true,
}

func (s *Server) handleModules(w http.ResponseWriter, r *http.Request) error {
	f, warns := manifest.LoadLenient(s.paths.ServicesJSON())
	for _, ref := range manifest.CheckMounts(f.Services) {
		warns = append(warns, modops.RefusalAdvice(ref)) // the row stays listed: it is installed
	}
	now := s.now()
	var mods []api.ModuleInfo
	seen := map[string]bool{}
	for _, row := range f.Services {
		short := manifest.ShortName(row.Name)
		if seen[short] {
			continue // extra vault instances are one process
		}
		seen[short] = true
		mi := api.ModuleInfo{Short: short, Name: row.Name, Available: true, Installed: true,
			Port: row.Port, Paths: row.Paths, DisplayName: row.DisplayName, Tagline: row.Tagline}
		v := row.Version
		mi.InstalledVersion = &v
		if row.InstallDir != "" {
			d := row.InstallDir
			mi.InstallDir = &d
		}
		if k, ok := manifest.KnownByShort(short); ok {
			mi.Package = k.Package
			if mi.DisplayName == "" {
				mi.DisplayName = k.DisplayName
			}
		}
		if st, ok := s.sup.Get(short); ok {
			fillState(&mi, st, now)
		}
		mods = append(mods, mi)
	}
	// Modules still supervised but no longer registered (removed from
	// services.json by another process) stay visible until stopped.
	for _, st := range s.sup.List() {
		if !seen[st.Short] {
			seen[st.Short] = true
			mi := api.ModuleInfo{Short: st.Short, Name: st.Short}
			fillState(&mi, st, now)
			mods = append(mods, mi)
		}
	}
	// The catalogue: first-party modules that are not installed.
	for _, k := range manifest.KnownModules() {
		if !seen[k.Short] && len(k.Cmd) > 0 {
			mods = append(mods, api.ModuleInfo{Short: k.Short, Name: k.ManifestName, Package: k.Package,
				DisplayName: k.DisplayName, Available: true, Port: k.Port})
		}
	}
	if s.sup != nil {
		usage := s.sup.UsageAll()
		for i := range mods {
			if u, ok := usage[mods[i].Short]; ok {
				mem, cpu := u.MemoryBytes, u.CPU.Seconds()
				mods[i].MemoryBytes, mods[i].CPUSeconds = &mem, &cpu
			}
		}
	}
	s.probeHealth(r.Context(), f, mods)
	if mods == nil {
		mods = []api.ModuleInfo{}
	}
	api.WriteJSON(w, http.StatusOK, api.ModulesResponse{Modules: mods, SupervisorAvailable: s.sup != nil,
		ModuleInstallChannel: s.installChannel(r.Context()), Warnings: warns})
	return nil
}

func fillState(mi *api.ModuleInfo, st supervisor.State, now time.Time) {
	status := string(st.Status)
	mi.SupervisorStatus = &status
	if st.PID > 0 {
		pid := st.PID
		mi.PID = &pid
	}
	mi.Restarts = st.Restarts
	mi.RestartsInWindow = st.RestartsInWindow
	mi.LastExitCode = st.LastExitCode
	mi.LastExitSignal = st.LastExitSignal
	mi.Ready = st.Ready
	mi.StartError = apiStartError(st.StartError)
	mi.Cgroup = st.Cgroup
	if st.Status == supervisor.StatusRunning && st.StartedAt != nil {
		t := *st.StartedAt
		mi.StartedAt = &t
		up := int64(now.Sub(t) / time.Second)
		mi.UptimeS = &up
	}
}

// probeHealth GETs the health path of every running module, concurrently,
// straight on the module's port (not through the proxy).
func (s *Server) probeHealth(ctx context.Context, f *manifest.File, mods []api.ModuleInfo) {
	rows := map[string]manifest.Service{}
	for _, row := range f.Services {
		if _, ok := rows[manifest.ShortName(row.Name)]; !ok {
			rows[manifest.ShortName(row.Name)] = row
		}
	}
	client := &http.Client{Timeout: healthTimeout, Transport: probeTransport}
	var wg sync.WaitGroup
	for i := range mods {
		mi := &mods[i]
		row, ok := rows[mi.Short]
		if !ok || mi.SupervisorStatus == nil || *mi.SupervisorStatus != string(supervisor.StatusRunning) || row.Port == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mi.Health = probe(ctx, client, row)
		}()
	}
	wg.Wait()
}

// moduleHealthPath is the health path as the module itself serves it: the
// services.json health path with the mount removed when the hub strips the
// prefix before proxying.
func moduleHealthPath(row manifest.Service) string {
	p := row.Health
	if p == "" {
		p = "/health"
	}
	if row.StripPrefix != nil && *row.StripPrefix && len(row.Paths) > 0 {
		mount := strings.TrimRight(row.Paths[0], "/")
		if mount != "" && strings.HasPrefix(p, mount) {
			p = strings.TrimPrefix(p, mount)
			if p == "" || p[0] != '/' {
				p = "/" + p
			}
		}
	}
	return p
}

func probe(ctx context.Context, client *http.Client, row manifest.Service) *api.Health {
	u := "http://127.0.0.1:" + strconv.Itoa(row.Port) + moduleHealthPath(row)
	h := &api.Health{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		h.Error = err.Error()
		return h
	}
	start := time.Now()
	resp, err := client.Do(req)
	h.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		h.Error = err.Error()
		return h
	}
	resp.Body.Close()
	h.StatusCode = resp.StatusCode
	h.OK = healthAnswerUp(resp.StatusCode)
	return h
}

// healthAnswerUp says whether an HTTP status on a module's health path
// means the module is up. 401 and 403 count: the module is serving and
// asks for credentials the probe does not send (the vault guards /health
// with a key). Other 4xx do not: a 404 most likely means the declared
// health path is wrong, so nothing vouches for the module's health.
func healthAnswerUp(code int) bool {
	switch {
	case code >= 200 && code < 400:
		return true
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return true
	}
	return false
}
