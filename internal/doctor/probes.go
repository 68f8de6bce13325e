package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"

	"howett.net/plist"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/hubsvc"
	"github.com/openparachute/parachute/internal/ports"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// HostProbes are the real probes for config root paths and the hub unit
// ctl drives (nil: no service manager).
func HostProbes(paths config.Paths, ctl *hubsvc.Controller) Probes {
	name := os.Getenv("SUDO_USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	client := hubclient.New(paths)
	base, _ := hubclient.Locate(paths)
	p := Probes{
		Getenv: os.Getenv, User: name, EUID: os.Geteuid(),
		Kind:    servicemgr.KindNone,
		HubPort: portOf(base),
		Health: func(ctx context.Context) error {
			_, err := client.Health(ctx)
			return err
		},
		TokenCheck: func(ctx context.Context) error {
			var me map[string]any
			return client.JSON(ctx, http.MethodGet, "/api/me", nil, &me)
		},
		Issuer:     func(ctx context.Context) (string, error) { return issuer(ctx, base) },
		HolderOf:   ports.HolderOf,
		Listening:  func(port int) bool { return ports.Listening(port, 300*time.Millisecond) },
		ParentOf:   parentOf,
		ChildArgvs: childArgvs,
		DiskFree:   diskFree,
		LookPath:   exec.LookPath,
		Run:        servicemgr.ExecRunner,
		Linger:     linger,
	}
	if ctl == nil || ctl.Mgr == nil || ctl.Mgr.Kind() == servicemgr.KindNone {
		return p
	}
	mgr := ctl.Mgr
	p.Kind, p.UnitName = mgr.Kind(), ctl.UnitName()
	p.UnitState = func(ctx context.Context) (servicemgr.State, error) { return ctl.State(ctx) }
	p.Journal = func(ctx context.Context, n int) ([]string, error) { return mgr.JournalTail(ctx, p.UnitName, n) }
	p.HubEnv = func(ctx context.Context, st servicemgr.State) ([]string, string, error) {
		return hubEnv(ctx, p.Kind, p.UnitName, st)
	}
	p.ConnectorState = func(ctx context.Context, unit string, system bool) (servicemgr.State, error) {
		opts := servicemgr.HostDetectOptions()
		switch {
		case p.Kind == servicemgr.KindSystemdSystem || p.Kind == servicemgr.KindSystemdUser:
			opts.ForceKind = servicemgr.KindSystemdUser
			if system {
				opts.ForceKind = servicemgr.KindSystemdSystem
			}
		default:
			opts.ForceKind = p.Kind
		}
		m, err := servicemgr.Detect(opts)
		if err != nil {
			return servicemgr.State{}, err
		}
		return m.State(ctx, unit, servicemgr.UnitPath(m.Kind(), opts.Home, unit))
	}
	return p
}

// portOf is the port of a hub base URL, else the default.
func portOf(base string) int {
	if i := strings.LastIndexByte(base, ':'); i >= 0 {
		if n, err := strconv.Atoi(strings.TrimRight(base[i+1:], "/")); err == nil && n > 0 {
			return n
		}
	}
	return config.DefaultHubPort
}

// issuer reads the running hub's OAuth issuer.
func issuer(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return "", err
	}
	// No proxy: the hub is on loopback and a proxy must not see this.
	c := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("reading the hub's OAuth metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("reading the hub's OAuth metadata: HTTP %d", resp.StatusCode)
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return "", fmt.Errorf("reading the hub's OAuth metadata: %w", err)
	}
	return meta.Issuer, nil
}

// hubEnv is the environment the hub (and so each module) runs with: the
// running hub's own /proc/<pid>/environ when it can be read, else what
// systemd would give the unit (the manager's environment, then the unit's
// Environment=), else the launchd plist's EnvironmentVariables.
func hubEnv(ctx context.Context, kind servicemgr.Kind, name string, st servicemgr.State) ([]string, string, error) {
	if st.MainPID > 0 {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(st.MainPID) + "/environ"); err == nil {
			return ParseEnviron(b), fmt.Sprintf("the running hub, pid %d", st.MainPID), nil
		}
	}
	switch kind {
	case servicemgr.KindSystemdSystem, servicemgr.KindSystemdUser:
		var scope []string
		if kind == servicemgr.KindSystemdUser {
			scope = []string{"--user"}
		}
		mgrEnv, err := output(ctx, "systemctl", append(scope, "show-environment")...)
		if err != nil {
			return nil, "", err
		}
		unitEnv, err := output(ctx, "systemctl", append(scope, "show", "-p", "Environment", "--value", name)...)
		if err != nil {
			return nil, "", err
		}
		env := append(ParseEnviron([]byte(strings.ReplaceAll(mgrEnv, "\n", "\x00"))), ParseSystemdEnvironment(unitEnv)...)
		return env, "the hub unit " + name, nil
	case servicemgr.KindLaunchd, servicemgr.KindLaunchdSystem:
		b, err := os.ReadFile(st.Path)
		if err != nil {
			return nil, "", fmt.Errorf("reading the hub's launchd plist: %w", err)
		}
		var pl struct {
			EnvironmentVariables map[string]string
		}
		if _, err := plist.Unmarshal(b, &pl); err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", st.Path, err)
		}
		var env []string
		for _, k := range sortedKeys(pl.EnvironmentVariables) {
			env = append(env, k+"="+pl.EnvironmentVariables[k])
		}
		return env, "the launchd job " + st.Path, nil
	}
	return nil, "", errors.New("no service manager")
}

// output runs a program (no shell) and returns its stdout.
func output(ctx context.Context, name string, args ...string) (string, error) {
	stdout, stderr, code, err := servicemgr.ExecRunner(ctx, name, args...)
	if err != nil {
		return "", fmt.Errorf("running %s: %w", name, err)
	}
	if code != 0 {
		return "", fmt.Errorf("%s %s exited %d: %s", name, strings.Join(args, " "), code, strings.TrimSpace(stderr))
	}
	return stdout, nil
}

// linger asks logind whether user lingers. A user with no session and no
// lingering is unknown to logind (loginctl fails): that is "no".
func linger(ctx context.Context, user string) (bool, error) {
	stdout, stderr, code, err := servicemgr.ExecRunner(ctx, "loginctl", "show-user", user, "-p", "Linger", "--value")
	if err != nil {
		return false, fmt.Errorf("running loginctl: %w", err)
	}
	if code != 0 {
		if strings.Contains(stderr, "not logged in") || strings.Contains(stderr, "lingering") {
			return false, nil
		}
		return false, fmt.Errorf("loginctl exited %d: %s", code, strings.TrimSpace(stderr))
	}
	return strings.TrimSpace(stdout) == "yes", nil
}

// ParseEnviron splits a NUL-separated environment (/proc/<pid>/environ)
// into KEY=value entries, dropping empty and malformed ones.
func ParseEnviron(b []byte) []string {
	var out []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, _, ok := strings.Cut(string(kv), "="); ok && k != "" {
			out = append(out, string(kv))
		}
	}
	return out
}

// ParseSystemdEnvironment splits `systemctl show -p Environment --value`:
// space-separated KEY=value assignments, where systemd double-quotes an
// assignment containing spaces or special characters and backslash-escapes
// inside the quotes.
func ParseSystemdEnvironment(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, escaped, have := false, false, false
	flush := func() {
		if have {
			if k, _, ok := strings.Cut(cur.String(), "="); ok && k != "" {
				out = append(out, cur.String())
			}
		}
		cur.Reset()
		have = false
	}
	for _, r := range s {
		switch {
		case escaped:
			switch r {
			case 'n':
				r = '\n'
			case 't':
				r = '\t'
			}
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && inQuote:
			escaped = true
		case r == '"':
			inQuote, have = !inQuote, true
		case (r == ' ' || r == '\n' || r == '\t') && !inQuote:
			flush()
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	flush()
	return out
}
