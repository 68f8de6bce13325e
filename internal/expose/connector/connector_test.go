package connector

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/testenv"
)

// TestMain lets this test binary play cloudflared.
func TestMain(m *testing.M) {
	exposetest.RunIfFake()
	os.Exit(m.Run())
}

// pidWriter is the hub's output: it hands on the pid of every fake
// connector that announces itself ("INF Starting tunnel … pid=N").
type pidWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	pids chan int
}

var startedRE = regexp.MustCompile(`^\[cloudflared-(\S+)\] INF Starting tunnel config=\S+ pid=(\d+)$`)

func (w *pidWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // an unfinished line waits for the rest
			return len(p), nil
		}
		if m := startedRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			pid, _ := strconv.Atoi(m[2])
			w.pids <- pid
		}
	}
}

// harness is a hub's connector runner over a config root.
type harness struct {
	t      *testing.T
	root   string
	fake   string
	bin    string
	out    *pidWriter
	passes chan []string
	stop   func()
}

func newHarness(t *testing.T) *harness {
	testenv.NoLeaks(t, "spawnLoop")
	fake := exposetest.Install(t)
	h := &harness{t: t, root: t.TempDir(), fake: fake, out: &pidWriter{pids: make(chan int, 16)}, passes: make(chan []string, 16)}
	h.bin = filepath.Join(strings.Split(os.Getenv("PATH"), ":")[0], "cloudflared")
	return h
}

func (h *harness) start() {
	h.stop = Start(context.Background(), Options{Root: h.root, Output: h.out, Poll: 5 * time.Millisecond,
		Reconciled: func(running []string) { h.passes <- running }})
	h.t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
		}
	})
}

// expose records tunnels the way `expose … --cloudflare` does without a
// service manager ("" = nothing exposed).
func (h *harness) expose(tunnels ...string) {
	h.t.Helper()
	st := &state.State{Providers: map[state.Provider]*state.Record{}}
	if len(tunnels) > 0 {
		rec := &state.Record{Version: 1, Layer: state.LayerPublic, Mode: "subdomain", CanonicalFQDN: "hub.example.com", Port: 1939,
			Tunnels: map[string]state.Tunnel{}}
		for _, n := range tunnels {
			dir := filepath.Join(h.root, "cloudflared", n)
			os.MkdirAll(dir, 0o700)
			rec.Tunnels[n] = state.Tunnel{UUID: exposetest.TunnelID, Name: n, Hostname: n + ".example.com",
				ConfigPath: filepath.Join(dir, "config.yml"), Connector: state.ConnectorHub, Cloudflared: h.bin}
		}
		st.Providers[state.Cloudflare] = rec
	}
	if err := state.Save(h.root, st); err != nil {
		h.t.Fatal(err)
	}
}

// waitPass waits for a reconcile pass that leaves want running.
func (h *harness) waitPass(want ...string) {
	h.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case got := <-h.passes:
			if cmp.Equal(want, got, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })) {
				return
			}
		case <-timeout:
			h.t.Fatalf("no reconcile pass with %q running", want)
		}
	}
}

func (h *harness) waitStarted() int {
	h.t.Helper()
	select {
	case pid := <-h.out.pids:
		return pid
	case <-time.After(20 * time.Second):
		h.t.Fatal("no connector started")
	}
	return 0
}

// connectors lists the live processes running a connector from a config
// file under the root: what `pgrep -f` would find.
func (h *harness) connectors() []int {
	h.t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(procs) == 0 {
		testenv.Unavailable(h.t, "no /proc to count connector processes")
	}
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 5 && args[1] == "tunnel" && args[4] == "run" && strings.HasPrefix(args[3], h.root) {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			if strings.Contains(string(stat), ") Z ") {
				continue // exited, not yet reaped
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// TestHubRunsTheConnector is the connector's life under a hub with no
// service manager: started at boot, restarted after it is killed, one
// process per tunnel whatever else changes in the state file, stopped on
// `off`, and started again by the next hub.
func TestHubRunsTheConnector(t *testing.T) {
	h := newHarness(t)
	h.expose("t1")
	h.start()
	h.waitPass("cloudflared-t1")
	first := h.waitStarted()
	if diff := cmp.Diff([]int{first}, h.connectors()); diff != "" {
		t.Fatalf("connectors at boot (-want +got):\n%s", diff)
	}
	if argv := exposetest.Argv(t, h.fake); len(argv) != 1 || strings.Join(argv[0], " ") != "cloudflared tunnel --config "+filepath.Join(h.root, "cloudflared", "t1", "config.yml")+" run" {
		t.Errorf("argv %q", argv)
	}

	// Terminated from outside (cloudflared then exits 0, as on
	// `systemctl kill`): the hub starts it again all the same.
	if err := syscall.Kill(first, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	second := h.waitStarted()
	if second == first {
		t.Fatal("same pid after a kill")
	}

	// Another tunnel exposed: t1 keeps its one connector.
	h.expose("t1", "t2")
	h.waitPass("cloudflared-t1", "cloudflared-t2")
	third := h.waitStarted()
	if got := h.connectors(); len(got) != 2 || !contains(got, second) || !contains(got, third) {
		t.Errorf("connectors = %v, want [%d %d]", got, second, third)
	}

	// `off` for t2, then for everything.
	h.expose("t1")
	h.waitPass("cloudflared-t1")
	if !gone(third) {
		t.Errorf("t2's connector %d still runs after its record went", third)
	}
	h.expose()
	h.waitPass()
	if got := h.connectors(); len(got) != 0 {
		t.Errorf("connectors after off: %v", got)
	}
	if _, err := os.Stat(LogFile(h.root, "t1")); err != nil {
		t.Errorf("no connector log: %v", err)
	}

	// A hub stopping takes its connector with it; the next hub brings it back.
	h.expose("t1")
	h.waitPass("cloudflared-t1")
	pid := h.waitStarted()
	h.stop()
	h.stop = nil
	if !gone(pid) {
		t.Errorf("connector %d outlived the hub", pid)
	}
	h.start()
	h.waitPass("cloudflared-t1")
	again := h.waitStarted()
	if diff := cmp.Diff([]int{again}, h.connectors()); diff != "" {
		t.Errorf("connectors after the hub restarted (-want +got):\n%s", diff)
	}
}

// TestMalformedStateKeepsConnectors: a state file the hub cannot read
// leaves the running connector alone (a typo must not take the site down),
// and the next good file is acted on.
func TestMalformedStateKeepsConnectors(t *testing.T) {
	h := newHarness(t)
	h.expose("t1")
	good, err := os.ReadFile(filepath.Join(h.root, state.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	h.waitPass("cloudflared-t1")
	pid := h.waitStarted()
	replace := func(b []byte) {
		tmp := filepath.Join(h.root, "state.tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(h.root, state.StateFile)); err != nil {
			t.Fatal(err)
		}
	}
	replace([]byte("{"))
	h.waitPass("cloudflared-t1")
	if gone(pid) {
		t.Error("the connector was stopped")
	}
	replace(good) // a new inode: read again, nothing to change
	h.waitPass("cloudflared-t1")
	if diff := cmp.Diff([]int{pid}, h.connectors()); diff != "" {
		t.Errorf("connectors (-want +got):\n%s", diff)
	}
}

func TestSpecsSkipServiceAndBadRecords(t *testing.T) {
	st := &state.State{Providers: map[state.Provider]*state.Record{state.Cloudflare: {Tunnels: map[string]state.Tunnel{
		"unit":     {Name: "unit", ConfigPath: "/c/unit.yml", Unit: "parachute-cloudflared-unit.service"},
		"hub":      {Name: "hub", ConfigPath: "/c/hub.yml", Connector: state.ConnectorHub},
		"abs":      {Name: "abs", ConfigPath: "/c/abs.yml", Connector: state.ConnectorHub, Cloudflared: "/opt/cf/cloudflared"},
		"../x":     {Name: "../x", ConfigPath: "/c/x.yml", Connector: state.ConnectorHub},
		"relative": {Name: "relative", ConfigPath: "c.yml", Connector: state.ConnectorHub},
	}}}}
	got := map[string]string{}
	for k, s := range Specs(st, RestartPolicy(), nil) {
		got[k] = strings.Join(s.Argv, " ")
	}
	want := map[string]string{
		"cloudflared-hub": "cloudflared tunnel --config /c/hub.yml run",
		"cloudflared-abs": "/opt/cf/cloudflared tunnel --config /c/abs.yml run",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestWorldWritableStateIsReported: the record names what the hub runs,
// so a state file anyone may change is reported, and refused by a root
// hub (config.CheckTrust decides): nothing runs from it then.
func TestWorldWritableStateIsReported(t *testing.T) {
	h := newHarness(t)
	h.expose("t1")
	path := filepath.Join(h.root, state.StateFile)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	stop := Start(context.Background(), Options{Root: h.root, Output: h.out, Poll: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Reconciled: func(r []string) { h.passes <- r }})
	defer stop()
	want := []string{"cloudflared-t1"}
	if os.Geteuid() == 0 {
		want = nil // a root hub refuses it
	}
	if got := <-h.passes; !slices.Equal(got, want) {
		t.Errorf("running %q, want %q; log:\n%s", got, want, logs.String())
	}
	if !strings.Contains(logs.String(), "chmod o-w "+path) {
		t.Errorf("no warning about %s:\n%s", path, logs.String())
	}
}

func TestIsArgv(t *testing.T) {
	const cfg = "/root/.parachute/cloudflared/hub/config.yml"
	for _, c := range []struct {
		name string
		argv []string
		want bool
	}{
		{"as Argv builds it", Argv("/usr/local/bin/cloudflared", cfg), true},
		{"from the hub's PATH", Argv("cloudflared", cfg), true},
		{"a script behind an interpreter", append([]string{"/bin/sh"}, Argv("/opt/cf", cfg)...), true},
		{"another tunnel's config", Argv("cloudflared", "/other/config.yml"), false},
		{"no binary", []string{"tunnel", "--config", cfg, "run"}, false},
		{"another subcommand", []string{"cloudflared", "tunnel", "--config", cfg, "list"}, false},
		{"empty", nil, false},
	} {
		if got := IsArgv(c.argv, cfg); got != c.want {
			t.Errorf("%s: IsArgv(%q) = %v, want %v", c.name, c.argv, got, c.want)
		}
	}
}
