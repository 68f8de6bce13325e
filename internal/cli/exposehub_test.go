package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/hub/hubtest"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/testenv"
)

// testModules are the first-party modules the real hub of the expose
// tests runs: this test binary under their command names on PATH
// (runIfTestModule). notes is registered too, but this hub has no command
// for it, so it is never running and never restarted.
var testModules = []string{"parachute-vault", "parachute-scribe"}

// runIfTestModule plays a module when the hub started this binary as one:
// it serves HTTP on $PORT until SIGTERM, answering every path with
// "<PARACHUTE_HUB_ORIGIN> <pid>", so a test sees the origin the running
// process was started with.
func runIfTestModule() {
	name := filepath.Base(os.Args[0])
	found := false
	for _, m := range testModules {
		found = found || m == name
	}
	if !found {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %d", os.Getenv("PARACHUTE_HUB_ORIGIN"), os.Getpid())
	}))
	<-sigs
	os.Exit(0)
}

// lines collects what the hub writes (its log and its modules' output)
// and lets a test wait for a line.
type lines struct {
	mu      sync.Mutex
	partial string
	all     []string
	changed chan struct{} // closed and replaced on every new line
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial += string(p)
	for {
		i := strings.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, l.partial[:i])
		l.partial = l.partial[i+1:]
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// mark is the number of lines so far; wait looks only past a mark.
func (l *lines) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// wait blocks until a line past from matches re and returns its
// submatches and the mark after it.
func (l *lines) wait(t *testing.T, from int, re *regexp.Regexp) ([]string, int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		for i := from; i < len(l.all); i++ {
			if m := re.FindStringSubmatch(l.all[i]); m != nil {
				l.mu.Unlock()
				return m, i + 1
			}
		}
		from = len(l.all)
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("the hub never wrote a line matching %s; it wrote:\n%s", re, l.String())
		}
	}
}

// matches lists the first submatch of every line past from matching re.
func (l *lines) matches(from int, re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.all[from:] {
		if m := re.FindStringSubmatch(s); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// realHub is `parachute serve` (hub.Run) in this process on a free port,
// over root, with the test modules registered and running.
type realHub struct {
	url   string
	root  string
	out   *lines
	ports map[string]int // module short → port
}

var moduleStarted = regexp.MustCompile(`msg="module started" module=(\S+)`)

// startRealHub runs the hub until the test ends. PATH must already hold
// the fakes' bin dir (exposetest.Install): the modules are linked there.
func startRealHub(t *testing.T, root string) *realHub {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		testenv.Unavailable(t, "cannot find the test binary to run as a module: %v", err)
	}
	bin := filepath.SplitList(os.Getenv("PATH"))[0]
	h := &realHub{root: root, out: newLines(), ports: map[string]int{}}
	var rows []manifest.Service
	for _, name := range append(testModules, "parachute-notes") {
		if name != "parachute-notes" {
			if err := os.Symlink(exe, filepath.Join(bin, name)); err != nil {
				t.Fatal(err)
			}
		}
		k, _ := manifest.KnownByShort(manifest.ShortName(name))
		p := freeTCPPort(t)
		h.ports[k.Short] = p
		rows = append(rows, manifest.Service{Name: name, Port: p, Paths: k.Paths, Health: k.Health, Version: "1.0.0"})
	}
	data, err := (&manifest.File{Services: rows}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	paths := config.Paths{Root: root}
	if err := paths.EnsureRoot(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths.ServicesJSON(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	h.url = hubtest.Start(t, hubtest.Options{Paths: paths, Output: h.out,
		Logger: slog.New(slog.NewTextHandler(h.out, nil))}).URL
	t.Setenv("PARACHUTE_HUB_URL", h.url)
	// Boot starts the modules in the background; wait for both.
	seen := map[string]bool{}
	for from := 0; len(seen) < len(testModules); {
		var m []string
		m, from = h.out.wait(t, from, moduleStarted)
		seen[m[1]] = true
	}
	return h
}

// moduleOrigin is the PARACHUTE_HUB_ORIGIN and pid of the running module.
func (h *realHub) moduleOrigin(t *testing.T, short string) (origin string, pid int) {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(h.ports[short]) + "/")
	if err != nil {
		t.Fatalf("asking %s: %v", short, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	o, p, _ := strings.Cut(string(b), " ")
	pid, _ = strconv.Atoi(p)
	return o, pid
}

// connectorPIDs lists the live processes running a Cloudflare connector
// from a config file under root: what `pgrep -f` would find.
func connectorPIDs(t *testing.T, root string) []int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(procs) == 0 {
		testenv.Unavailable(t, "no /proc to count connector processes")
	}
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 5 && args[1] == "tunnel" && args[4] == "run" && strings.HasPrefix(args[3], root) {
			if stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat")); strings.Contains(string(stat), ") Z ") {
				continue // exited, not yet reaped
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestExposeCloudflareWithoutAServiceManager is the container case: no
// systemd or launchd, so `expose cloudflare` hands the connector to the
// running hub, which starts it, restarts it after it is killed, runs one
// only, and stops it on `off`.
func TestExposeCloudflareWithoutAServiceManager(t *testing.T) {
	fake, root, h := exposeEnv(t, false, "")
	cloudflaredLogin(t)
	started := regexp.MustCompile(`^\[cloudflared-parachute-hub-example-com\] INF Starting tunnel config=\S+ pid=(\d+)$`)
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "cloudflare", "--domain", "hub.example.com")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"✓ No service manager here: the hub runs the connector.",
		"Connector: run by the hub (no service manager on this machine)",
		"It stops when the hub stops.",
		"Logs: " + filepath.Join(root, "cloudflared", "parachute-hub-example-com", "cloudflared-parachute-hub-example-com.log"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "The hub is not running") {
		t.Errorf("warned that the running hub is not running:\n%s", out)
	}
	checkRestarted(t, h, mark, "https://hub.example.com")

	m, next := h.out.wait(t, mark, started)
	first, _ := strconv.Atoi(m[1])
	if got := connectorPIDs(t, root); !slices.Equal(got, []int{first}) {
		t.Fatalf("connectors running: %v, want [%d]", got, first)
	}
	wantArgv := []string{"cloudflared", "tunnel", "--config", filepath.Join(root, "cloudflared", "parachute-hub-example-com", "config.yml"), "run"}
	if argv := exposetest.Argv(t, fake); !slices.ContainsFunc(argv, func(a []string) bool { return slices.Equal(a, wantArgv) }) {
		t.Errorf("no connector run with argv %q among %q", wantArgv, argv)
	}

	// Killed: the hub starts it again, still one.
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m, _ = h.out.wait(t, next, started)
	second, _ := strconv.Atoi(m[1])
	if second == first {
		t.Fatal("same pid after the kill")
	}
	if got := connectorPIDs(t, root); !slices.Equal(got, []int{second}) {
		t.Errorf("connectors running after the restart: %v, want [%d]", got, second)
	}

	// Off: the record goes and the hub stops the connector.
	mark = h.out.mark()
	code, out, errOut = runCLI(t, "expose", "cloudflare", "off")
	if code != 0 || !strings.Contains(out, `✓ The hub stops the connector of tunnel "parachute-hub-example-com".`) {
		t.Fatalf("off: exit %d\n%s\n%s", code, out, errOut)
	}
	h.out.wait(t, mark, regexp.MustCompile(`msg="stopped the Cloudflare connector; its tunnel is no longer exposed" component=cloudflared connector=cloudflared-parachute-hub-example-com`))
	if got := connectorPIDs(t, root); len(got) != 0 {
		t.Errorf("connectors running after off: %v", got)
	}
}
