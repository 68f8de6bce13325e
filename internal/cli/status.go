package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/manifest"
)

// The four row states of `parachute status`.
const (
	stateActive   = "active"
	statePending  = "pending"
	stateInactive = "inactive"
	stateFailing  = "failing"
)

// statusJSON is `parachute status --json`.
type statusJSON struct {
	Hub     hubStatusJSON      `json:"hub"`
	Modules []moduleStatusJSON `json:"modules"`
	Notes   []string           `json:"notes,omitempty"`
	// Error is set when services.json cannot be read; status then exits 1.
	Error string `json:"error,omitempty"`
	// Reachable lists where the running hub answers from (loopback, LAN
	// listeners, exposures); absent when the hub is down.
	Reachable []reachable `json:"reachable,omitempty"`
}

type hubStatusJSON struct {
	URL     string   `json:"url"`
	Port    int      `json:"port"`
	Up      bool     `json:"up"`
	State   string   `json:"state"`
	Manager string   `json:"manager"`
	Version string   `json:"version,omitempty"`
	PID     int      `json:"pid,omitempty"`
	UptimeS *int64   `json:"uptime_s"`
	Latency float64  `json:"latency_ms,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

type moduleStatusJSON struct {
	Name  string `json:"name"`
	Short string `json:"short"`
	// Vault is the vault instance this row is about: a vault row serving
	// several vaults is shown once per vault, all sharing one process.
	Vault    string      `json:"vault,omitempty"`
	Port     int         `json:"port"`
	Version  string      `json:"version"`
	State    string      `json:"state"`
	Status   *string     `json:"status"` // supervisor status, null when unknown
	PID      *int        `json:"pid"`
	Restarts int         `json:"restarts"`
	UptimeS  *int64      `json:"uptime_s"`
	Health   *api.Health `json:"health"`
	// Resource use of a running module (its cgroup under systemd, else its
	// process group); absent when unknown.
	MemoryBytes *int64   `json:"memory_bytes,omitempty"`
	CPUSeconds  *float64 `json:"cpu_seconds,omitempty"`
	Cgroup      string   `json:"cgroup,omitempty"`
	URL         string   `json:"url"`
	Source      string   `json:"source"`
	StartError  string   `json:"start_error,omitempty"`
	Notes       []string `json:"notes,omitempty"`

	// HealthStatus is the HTTP status the health path answered; absent
	// when it did not answer (or was not probed).
	HealthStatus int `json:"health_status,omitempty"`
}

func statusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the hub and every module: state, pid, uptime, health latency",
		Description: `Reads services.json (never writes it), asks the running hub for live module
state and health, and prints one row per module plus the hub row.

States: active (running and answering), pending (starting or restarting),
inactive (stopped, or the hub is down), failing (crashed, or not answering).
A health answer of 2xx, 3xx, 401 or 403 counts as answering (401/403: the
module is up and asks for credentials); STATE shows the HTTP code when it
is not 200, e.g. "active (401)" or "failing (404)".
Exit code 1 when any row is failing, else 0.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
		Action: func(c *cli.Context) error {
			paths, err := e.paths()
			if err != nil {
				return rootErr(err)
			}
			st := collectStatus(c, paths)
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				printStatus(e, st)
			}
			if st.failing() {
				return silent(ExitFail)
			}
			return nil
		},
	}
}

func (s *statusJSON) failing() bool {
	if s.Hub.State == stateFailing || s.Error != "" {
		return true
	}
	for _, m := range s.Modules {
		if m.State == stateFailing {
			return true
		}
	}
	return false
}

// collectStatus gathers `parachute status`: services.json, the hub's
// answers, and one row per module. It never fails: what it cannot learn
// becomes a note, an inactive row or out.Error.
func collectStatus(c *cli.Context, paths config.Paths) *statusJSON {
	out := &statusJSON{}
	f := readServices(paths, out)
	hub, mods, merr := probeHub(c.Context, paths)
	out.Hub = hub
	live, degraded := liveModules(hub.Up, mods, merr)
	out.Modules = moduleRows(f.Services, hub.Up, live)
	noteDegraded(out, degraded)
	if hub.Up {
		// Where the hub answers from, so a user who wants LAN access
		// knows the one setting to change (issue 11).
		out.Reachable = reachability(paths.Root, hub.Port)
	}
	// A broken expose-state.json would otherwise read as "nothing
	// exposed"; its error says how to fix it.
	if _, err := state.Load(paths.Root); err != nil {
		out.Notes = append(out.Notes, "exposures unknown: "+err.Error())
	}
	out.Notes = append(out.Notes, legacyTunnelNotes(paths.Root)...)
	return out
}

// readServices reads services.json strictly (it never writes): a
// malformed file becomes out.Error and an empty list, so status still
// shows the hub row; the file's warnings become out.Notes.
func readServices(paths config.Paths, out *statusJSON) *manifest.File {
	f, err := manifest.Load(paths.ServicesJSON())
	if err != nil {
		out.Error = "services.json is malformed: " + err.Error() + "\nFix or remove the file, then re-run."
		f = &manifest.File{}
	}
	for _, w := range f.Warnings {
		out.Notes = append(out.Notes, "services.json: "+w)
	}
	return f
}

// probeHub asks the hub for /health and /api/modules and the service
// manager for its view of the hub, and returns the hub row with the
// module list (or why there is none).
//
// The three are independent, so they run at once: status costs the
// slowest of them rather than their sum. /api/modules is only used when
// /health says the hub is up, and is cancelled when it does not.
func probeHub(ctx context.Context, paths config.Paths) (hubStatusJSON, *api.ModulesResponse, error) {
	client := hubclient.New(paths)
	hub := hubStatusJSON{URL: client.Base, Port: portOf(client.Base)}
	var (
		wg   sync.WaitGroup
		mgr  managerView
		mods *api.ModulesResponse
		merr error
	)
	mctx, cancelModules := context.WithCancel(ctx)
	defer cancelModules()
	wg.Add(2)
	go func() { defer wg.Done(); mgr = hubManagerView(ctx, paths) }()
	go func() { defer wg.Done(); mods, merr = client.Modules(mctx) }()
	start := time.Now()
	h, herr := client.Health(ctx)
	if herr == nil {
		hub.Up = true
		hub.Version, hub.PID = h.Version, h.PID
		up := h.UptimeS
		hub.UptimeS = &up
		hub.Latency = float64(time.Since(start).Microseconds()) / 1000
	} else {
		cancelModules()
	}
	wg.Wait()
	hub.Manager = mgr.label
	hub.State, hub.Notes = hubRowState(mgr, hub.Up)
	return hub, mods, merr
}

// liveModules indexes the hub's module list by short name. It is nil when
// the hub is down, or when the list could not be read; degraded then says
// why (for the operator), unless the hub is simply down.
func liveModules(hubUp bool, mods *api.ModulesResponse, merr error) (live map[string]api.ModuleInfo, degraded string) {
	switch {
	case !hubUp:
		return nil, ""
	case errors.Is(merr, config.ErrNoOperatorToken):
		return nil, "couldn't read live module state — " + merr.Error()
	case merr != nil:
		return nil, "couldn't read live module state (" + merr.Error() + ")"
	}
	live = map[string]api.ModuleInfo{}
	for _, m := range mods.Modules {
		live[m.Short] = m
	}
	return live, ""
}

// moduleRows is one status row per services.json row: what the file says,
// the hub's live view (live, nil when unknown), and the notes about it.
func moduleRows(services []manifest.Service, hubUp bool, live map[string]api.ModuleInfo) []moduleStatusJSON {
	rows := []moduleStatusJSON{} // [] rather than null in --json
	refused := refusedRows(services)
	for i, row := range services {
		m := moduleRow(row, hubUp, live)
		if why, ok := refused[i]; ok {
			m.State = stateFailing
			m.Notes = append(m.Notes, why)
		}
		if k, ok := manifest.KnownByShort(m.Short); ok && k.Port != 0 && row.Port != k.Port && !manifest.IsVaultName(row.Name) {
			m.Notes = append(m.Notes, "canonical port is "+strconv.Itoa(k.Port))
		}
		rows = append(rows, vaultInstanceRows(m, row)...)
	}
	return rows
}

// vaultInstanceRows is m once per vault instance of a vault row (each with
// its instance's URL), or m alone for any other row.
func vaultInstanceRows(m moduleStatusJSON, row manifest.Service) []moduleStatusJSON {
	if !manifest.IsVaultName(row.Name) {
		return []moduleStatusJSON{m}
	}
	var out []moduleStatusJSON
	for _, v := range manifest.VaultInstances([]manifest.Service{row}) {
		r := m
		r.Vault = v.Name
		one := row
		one.Paths = []string{v.Path}
		r.URL = moduleURL(m.Short, one)
		r.Notes = append([]string(nil), m.Notes...)
		out = append(out, r)
	}
	return out
}

// moduleRow is one module's row before the mount and port notes: the
// file's facts, and its state from the hub's live view.
func moduleRow(row manifest.Service, hubUp bool, live map[string]api.ModuleInfo) moduleStatusJSON {
	short := manifest.ShortName(row.Name)
	m := moduleStatusJSON{Name: row.Name, Short: short, Port: row.Port, Version: row.Version,
		URL: moduleURL(short, row), Source: moduleSource(row)}
	li, ok := live[short]
	switch {
	case !hubUp:
		m.State = stateInactive
		m.Notes = append(m.Notes, "hub is down — its modules are stopped")
	case !ok: // not supervised, or live state unknown
		m.State = stateInactive
	default:
		m.Status, m.PID, m.Restarts, m.UptimeS, m.Health = li.SupervisorStatus, li.PID, li.Restarts, li.UptimeS, li.Health
		m.MemoryBytes, m.CPUSeconds, m.Cgroup = li.MemoryBytes, li.CPUSeconds, li.Cgroup
		m.State, m.Notes = moduleRowState(li)
		if li.Health != nil {
			m.HealthStatus = li.Health.StatusCode
		}
		if li.StartError != nil {
			m.StartError = li.StartError.Description
		}
	}
	return m
}

// noteDegraded puts why live module state is missing on the first module
// row, or on the hub row when there are no modules.
func noteDegraded(out *statusJSON, degraded string) {
	switch {
	case degraded == "":
	case len(out.Modules) > 0:
		out.Modules[0].Notes = append(out.Modules[0].Notes, degraded)
	default:
		out.Hub.Notes = append(out.Hub.Notes, degraded)
	}
}

// refusedRows maps the index of every row the hub refuses to start and
// route (the mount rules of internal/mounts) to why and what to do; status
// shows such a row as failing with that note.
func refusedRows(services []manifest.Service) map[int]string {
	out := map[int]string{}
	for _, r := range manifest.CheckMounts(services) {
		out[r.Index] = manifest.MountAdvice(r)
	}
	return out
}

// moduleRowState maps the supervisor's view to a row state and notes.
func moduleRowState(li api.ModuleInfo) (string, []string) {
	var notes []string
	status := ""
	if li.SupervisorStatus != nil {
		status = *li.SupervisorStatus
	}
	if li.StartError != nil {
		first, _, _ := strings.Cut(li.StartError.Description, "\n")
		notes = append(notes, "failed to start: "+first)
	}
	switch status {
	case "running":
		if li.Health != nil && !li.Health.OK {
			detail := li.Health.Error
			switch code := li.Health.StatusCode; {
			case code == http.StatusNotFound:
				detail = "HTTP 404 — nothing answers on the declared health path; check `health` for " +
					li.Name + " in services.json"
			case code != 0:
				detail = "HTTP " + strconv.Itoa(code)
			}
			if li.Ready {
				return stateFailing, append(notes, "probe: "+li.Health.URL+": "+detail)
			}
		}
		if !li.Ready {
			if li.StartError != nil {
				return stateFailing, notes
			}
			return statePending, append(notes, "starting: waiting for its port to open")
		}
		return stateActive, notes
	case "starting", "restarting":
		n := "restarting after a crash"
		if status == "starting" {
			n = "starting"
		}
		if li.LastExitCode != nil {
			n += " (last exit code " + strconv.Itoa(*li.LastExitCode) + ")"
		} else if li.LastExitSignal != "" {
			n += " (last killed by " + li.LastExitSignal + ")"
		}
		return statePending, append(notes, n)
	case "crashed":
		n := "probe: supervisor: crashed"
		if li.RestartsInWindow > 0 {
			n += " " + strconv.Itoa(li.RestartsInWindow) + "x — run `parachute logs " + li.Short + "`, then `parachute start " + li.Short + "`"
		}
		return stateFailing, append(notes, n)
	}
	return stateInactive, notes
}

// moduleURL is where the operator reaches the module.
func moduleURL(short string, row manifest.Service) string {
	base := "http://127.0.0.1:" + strconv.Itoa(row.Port)
	mount := ""
	if len(row.Paths) > 0 {
		mount = strings.TrimRight(row.Paths[0], "/")
	}
	switch short {
	case "vault":
		return base + mount + "/mcp"
	case "scribe":
		return base
	}
	return base + mount
}

// moduleSource says where a module's code comes from.
func moduleSource(row manifest.Service) string {
	switch {
	case row.InstallDir == "":
		return "unknown"
	case strings.Contains(row.InstallDir, "/node_modules/"):
		return "npm (" + row.Version + ")"
	}
	return "local → " + row.InstallDir
}

// hubPort is the hub's port from hub.port (or PARACHUTE_HUB_URL), else 1939.
func hubPort(p config.Paths) int {
	base, _ := hubclient.Locate(p)
	return portOf(base)
}

// portOf is the port of a hub base URL (hubclient.Locate's), else 1939.
func portOf(base string) int {
	if u, err := url.Parse(base); err == nil {
		if n, err := strconv.Atoi(u.Port()); err == nil && n > 0 {
			return n
		}
	}
	return config.DefaultHubPort
}

func printStatus(e *env, st *statusJSON) {
	header := []string{"SERVICE", "PORT", "VERSION", "STATE", "PID", "UPTIME", "LATENCY", "SOURCE"}
	var rows [][]string
	var notes [][]string
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, m := range st.Modules {
		pid, up, lat := "-", "-", "-"
		if m.PID != nil {
			pid = strconv.Itoa(*m.PID)
		}
		if m.UptimeS != nil {
			up = humanDuration(time.Duration(*m.UptimeS) * time.Second)
		}
		if m.Health != nil && m.Health.OK {
			lat = humanLatency(m.Health.LatencyMS)
		}
		state := m.State
		if m.HealthStatus != 0 && m.HealthStatus != http.StatusOK {
			state += " (" + strconv.Itoa(m.HealthStatus) + ")"
		}
		name := m.Name
		if m.Vault != "" {
			name += " [" + m.Vault + "]"
		}
		rows = append(rows, []string{name, strconv.Itoa(m.Port), dash(m.Version), state, pid, up, lat, m.Source})
		n := []string{"→ " + m.URL}
		for _, x := range m.Notes {
			n = append(n, "! "+x)
		}
		notes = append(notes, n)
	}
	h := st.Hub
	pid, up, lat := "-", "-", "-"
	if h.PID != 0 {
		pid = strconv.Itoa(h.PID)
	}
	if h.UptimeS != nil {
		up = humanDuration(time.Duration(*h.UptimeS) * time.Second)
	}
	if h.Up {
		lat = humanLatency(h.Latency)
	}
	rows = append(rows, []string{"parachute-hub (internal)", strconv.Itoa(h.Port), dash(h.Version), h.State, pid, up, lat, h.Manager})
	hn := []string{"→ " + h.URL}
	for _, x := range h.Notes {
		hn = append(hn, "! "+x)
	}
	notes = append(notes, hn)
	writeTable(e.stdout, header, rows, notes)
	if len(st.Reachable) > 0 {
		e.printf("\nThe hub is reachable at:\n")
		for _, r := range st.Reachable {
			e.printf("  %s  (%s)\n", r.URL, r.From)
		}
		if len(st.Reachable) == 1 {
			e.printf("  loopback only: for LAN access set PARACHUTE_BIND_HOST (or `parachute serve --bind`); for other devices, `parachute expose tailnet`\n")
		}
	}
	for _, n := range st.Notes {
		e.printf("! %s\n", n)
	}
	if st.Error != "" {
		e.eprintf("%s\n", st.Error)
	}
}
