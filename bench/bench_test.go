// Package bench measures the hub against the targets in the README: hub
// RSS with 10 modules, cold start to /health, `parachute status` wall time,
// crash-to-respawn latency, and log
// throughput. Each figure is reported beside a floor measured in the same
// run (plain fork/exec + connect of the same module, the same child
// writing to a bare pipe), so a slow machine shows up in both columns.
//
// Run: go test -run '^$' -bench . -benchtime 20x ./bench/
package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

var bins struct {
	once                      sync.Once
	dir                       string
	parachute, testmod, hello string
	err                       error
}

// build compiles the binaries once per benchmark run (not for `go test`
// without -bench, which runs no benchmark and builds nothing).
func build(b *testing.B) {
	b.Helper()
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "parachute-bench-")
		if bins.err != nil {
			return
		}
		bins.parachute = filepath.Join(bins.dir, "parachute")
		bins.testmod = filepath.Join(bins.dir, "testmod")
		bins.hello = filepath.Join(bins.dir, "hello")
		for _, x := range []struct{ out, pkg string }{
			{bins.parachute, "github.com/openparachute/parachute/cmd/parachute"},
			{bins.testmod, "github.com/openparachute/parachute/internal/e2e/testmod"},
			{bins.hello, "github.com/openparachute/parachute/bench/hello"},
		} {
			// Built like a release binary (static, stripped, same tags).
			cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags", "-s -w", "-o", x.out, x.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				bins.err = fmt.Errorf("go build %s: %v\n%s", x.pkg, err, out)
				return
			}
		}
	})
	if bins.err != nil {
		b.Fatal(bins.err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// freePort is testenv.FreePort.
func freePort(b *testing.B) int { return testenv.FreePort(b) }

// home writes a config root with n testmod modules running mode.
func home(b *testing.B, n int, mode []string, extraEnv map[string]string) (root string, ports []int) {
	b.Helper()
	root = b.TempDir()
	var rows []map[string]any
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("m%02d", i)
		port := freePort(b)
		ports = append(ports, port)
		dir := filepath.Join(root, "modules", name)
		os.MkdirAll(filepath.Join(dir, ".parachute"), 0o755)
		mj, _ := json.Marshal(map[string]any{"name": name, "port": port, "paths": []string{"/" + name},
			"health": "/" + name + "/health", "startCmd": append([]string{bins.testmod}, mode...)})
		os.WriteFile(filepath.Join(dir, ".parachute", "module.json"), mj, 0o644)
		rows = append(rows, map[string]any{"name": name, "port": port, "paths": []string{"/" + name},
			"health": "/" + name + "/health", "version": "1.0.0", "installDir": dir,
			"supervise": map[string]any{"maxCrashes": 1000}})
		if len(extraEnv) > 0 {
			var env strings.Builder
			for k, v := range extraEnv {
				fmt.Fprintf(&env, "%s=%s\n", k, v)
			}
			os.MkdirAll(filepath.Join(root, name), 0o700)
			os.WriteFile(filepath.Join(root, name, ".env"), []byte(env.String()), 0o600)
		}
	}
	sj, _ := json.Marshal(map[string]any{"services": rows})
	os.WriteFile(filepath.Join(root, "services.json"), sj, 0o600)
	return root, ports
}

type hub struct {
	cmd  *exec.Cmd
	port int
	root string
}

func env(root string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARACHUTE_") && !strings.HasPrefix(kv, "PORT=") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			out = append(out, kv)
		}
	}
	return append(out, "PARACHUTE_HOME="+root)
}

// startHub runs serve and returns once /health answers, with the elapsed time.
func startHub(b *testing.B, root string, port int, stdout io.Writer) (*hub, time.Duration) {
	b.Helper()
	cmd := exec.Command(bins.parachute, "serve", "--port", strconv.Itoa(port))
	cmd.Env = env(root)
	cmd.Stdout, cmd.Stderr = stdout, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	waitHTTP(b, port, "/health")
	return &hub{cmd: cmd, port: port, root: root}, time.Since(start)
}

func (h *hub) stop() {
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
}

// waitHTTP polls GET path until it answers 200 (tight loop: this is the
// measurement, so the poll interval bounds its resolution).
func waitHTTP(b *testing.B, port int, path string) {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + path
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.Fatalf("%s did not answer within 20s", url)
}

func dialable(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 50*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// floorSpawn is the floor for starting a module: fork/exec testmod serve
// and wait until its /health answers.
func floorSpawn(b *testing.B) time.Duration {
	port := freePort(b)
	cmd := exec.Command(bins.testmod, "serve")
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	waitHTTP(b, port, "/health")
	d := time.Since(start)
	cmd.Process.Kill()
	cmd.Wait()
	return d
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkColdStart: `parachute serve` exec → /health 200, no modules
// (the signing key already exists, as on every start but the first).
func BenchmarkColdStart(b *testing.B) {
	build(b)
	root, _ := home(b, 0, nil, nil)
	h, _ := startHub(b, root, freePort(b), io.Discard) // first boot makes the key
	h.stop()
	var hubT, floorT time.Duration
	for i := 0; i < b.N; i++ {
		h, d := startHub(b, root, freePort(b), io.Discard)
		hubT += d
		b.StopTimer()
		h.stop()
		floorT += floorSpawn(b)
		b.StartTimer()
	}
	b.ReportMetric(ms(hubT)/float64(b.N), "hub-ms")
	b.ReportMetric(ms(floorT)/float64(b.N), "floor-exec+http-ms")
}

// BenchmarkStatus: `parachute status --json` wall time against a hub
// supervising 10 modules. The floor is what any client must pay: exec a Go
// hello-world, plus one HTTP round trip on a fresh connection for the one
// request status cannot do without (GET /api/modules, which probes every
// module's health on the hub side). Also reported: exec of `parachute
// version` (the binary's own start-up), and status as a multiple of the
// floor (the target is ≤ 2).
func BenchmarkStatus(b *testing.B) {
	build(b)
	root, ports := home(b, 10, []string{"serve"}, nil)
	h, _ := startHub(b, root, freePort(b), io.Discard)
	defer h.stop()
	for _, p := range ports {
		waitHTTP(b, p, "/health")
	}
	// A new process opens a new connection: no keep-alive for the floor.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var statusT, versionT, helloT, rttT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bins.parachute, "status", "--json")
		cmd.Env = env(root)
		t0 := time.Now()
		out, err := cmd.Output()
		statusT += time.Since(t0)
		if err != nil {
			b.Fatalf("status: %v\n%s", err, out)
		}
		b.StopTimer()
		versionT += timeExec(b, bins.parachute, "version")
		helloT += timeExec(b, bins.hello)
		rttT += timeModulesGet(b, client, h)
		b.StartTimer()
	}
	n := float64(b.N)
	floor := ms(helloT+rttT) / n
	b.ReportMetric(ms(statusT)/n, "status-ms")
	b.ReportMetric(floor, "floor-hello+http-ms")
	b.ReportMetric(ms(statusT)/n/floor, "status/floor")
	b.ReportMetric(ms(helloT)/n, "hello-exec-ms")
	b.ReportMetric(ms(rttT)/n, "http-rtt-ms")
	b.ReportMetric(ms(versionT)/n, "version-exec-ms")
}

// timeExec runs argv to completion and returns its wall time.
func timeExec(b *testing.B, argv ...string) time.Duration {
	cmd := exec.Command(argv[0], argv[1:]...)
	t0 := time.Now()
	if out, err := cmd.Output(); err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, out)
	}
	return time.Since(t0)
}

// timeModulesGet times one authenticated GET /api/modules, body read.
func timeModulesGet(b *testing.B, client *http.Client, h *hub) time.Duration {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(h.port)+"/api/modules", nil)
	req.Header.Set("Authorization", "Bearer "+token(b, h))
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET /api/modules = %d, %v", resp.StatusCode, err)
	}
	return d
}

// BenchmarkRespawn: SIGKILL a module, time until its replacement accepts
// connections. The first crash of a streak restarts at once, so nothing is
// subtracted: the figure is the whole crash → serving latency, beside the
// floor of a plain fork/exec + connect of the same module. An explicit
// restart between iterations resets the streak, so every iteration is a
// first crash.
func BenchmarkRespawn(b *testing.B) {
	build(b)
	root, ports := home(b, 1, []string{"serve"}, nil)
	h, _ := startHub(b, root, freePort(b), io.Discard)
	defer h.stop()
	port := ports[0]
	waitHTTP(b, port, "/health")
	var respawnT, floorT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		pid := modulePID(b, h, "m00")
		b.StartTimer()
		t0 := time.Now()
		syscall.Kill(pid, syscall.SIGKILL)
		for dialable(port) { // until the old child is gone
		}
		for !dialable(port) {
			time.Sleep(100 * time.Microsecond)
		}
		respawnT += time.Since(t0)
		b.StopTimer()
		apiPost(b, h, "/api/modules/m00/restart")
		floorT += floorSpawn(b)
		b.StartTimer()
	}
	b.ReportMetric(ms(respawnT)/float64(b.N), "respawn-ms")
	b.ReportMetric(ms(floorT)/float64(b.N), "floor-exec+http-ms")
}

func token(b *testing.B, h *hub) string {
	t, err := os.ReadFile(filepath.Join(h.root, "operator.token"))
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(string(t))
}

func apiGet(b *testing.B, h *hub, path string, v any) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(h.port)+path, nil)
	req.Header.Set("Authorization", "Bearer "+token(b, h))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
}

func apiPost(b *testing.B, h *hub, path string) {
	req, _ := http.NewRequest("POST", "http://127.0.0.1:"+strconv.Itoa(h.port)+path, nil)
	req.Header.Set("Authorization", "Bearer "+token(b, h))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("POST %s = %d", path, resp.StatusCode)
	}
}

func modulePID(b *testing.B, h *hub, short string) int {
	var m struct {
		Modules []struct {
			Short string `json:"short"`
			PID   *int   `json:"pid"`
			Ready bool   `json:"ready"`
		} `json:"modules"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		apiGet(b, h, "/api/modules", &m)
		for _, x := range m.Modules {
			if x.Short == short && x.PID != nil && x.Ready {
				return *x.PID
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("module %s never ready", short)
	return 0
}

// rssKB reads VmRSS of pid.
func rssKB(b *testing.B, pid int) int { return statusKB(b, pid, "VmRSS:") }

// anonKB reads RssAnon of pid: the private memory, without the binary's
// file-backed pages (shared with the page cache and reclaimable).
func anonKB(b *testing.B, pid int) int { return statusKB(b, pid, "RssAnon:") }

func statusKB(b *testing.B, pid int, key string) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}

// BenchmarkRSS: the hub's resident memory while it supervises 10 modules
// that are all up and probed once through GET /api/modules; floor: one
// testmod serve (a minimal Go HTTP server).
func BenchmarkRSS(b *testing.B) {
	build(b)
	root, ports := home(b, 10, []string{"serve"}, nil)
	var hubKB, floorKB, hubAnon, floorAnon int
	for i := 0; i < b.N; i++ {
		h, _ := startHub(b, root, freePort(b), io.Discard)
		for _, p := range ports {
			waitHTTP(b, p, "/health")
		}
		var m any
		apiGet(b, h, "/api/modules", &m)
		hubKB += rssKB(b, h.cmd.Process.Pid)
		hubAnon += anonKB(b, h.cmd.Process.Pid)
		h.stop()
		port := freePort(b)
		cmd := exec.Command(bins.testmod, "serve")
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
		cmd.Start()
		waitHTTP(b, port, "/health")
		floorKB += rssKB(b, cmd.Process.Pid)
		floorAnon += anonKB(b, cmd.Process.Pid)
		cmd.Process.Kill()
		cmd.Wait()
	}
	b.ReportMetric(float64(hubKB)/1024/float64(b.N), "hub-RSS-MB")
	b.ReportMetric(float64(floorKB)/1024/float64(b.N), "floor-goHTTP-RSS-MB")
	b.ReportMetric(float64(hubAnon)/1024/float64(b.N), "hub-private-MB")
	b.ReportMetric(float64(floorAnon)/1024/float64(b.N), "floor-goHTTP-private-MB")
}

// BenchmarkLogThroughput: one module writes 256 MiB of 100-byte lines as
// fast as it can; the figure is the rate the child itself achieved (so a
// hub that blocked it would show here), beside the same child writing
// into a bare pipe drained by a reader that does nothing.
func BenchmarkLogThroughput(b *testing.B) {
	build(b)
	const total = 256 << 20
	var hubRate, floorRate float64
	for i := 0; i < b.N; i++ {
		report := filepath.Join(b.TempDir(), "report")
		root, _ := home(b, 1, []string{"spew"}, map[string]string{"SPEW_BYTES": strconv.Itoa(total), "SPEW_REPORT": report})
		h, _ := startHub(b, root, freePort(b), io.Discard)
		hubRate += waitReport(b, report)
		h.stop()

		report2 := filepath.Join(b.TempDir(), "report")
		cmd := exec.Command(bins.testmod, "spew")
		cmd.Env = append(os.Environ(), "SPEW_BYTES="+strconv.Itoa(total), "SPEW_REPORT="+report2)
		out, _ := cmd.StdoutPipe()
		cmd.Start()
		go io.Copy(io.Discard, out)
		floorRate += waitReport(b, report2)
		cmd.Process.Kill()
		cmd.Wait()
	}
	b.ReportMetric(hubRate/float64(b.N), "hub-MB/s")
	b.ReportMetric(floorRate/float64(b.N), "floor-pipe-MB/s")
}

func waitReport(b *testing.B, path string) float64 {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			var n, ns int64
			if _, err := fmt.Sscanf(string(data), "spew: wrote %d bytes in %d ns", &n, &ns); err == nil && ns > 0 {
				return float64(n) / (1 << 20) / (float64(ns) / 1e9)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatal("the spew module never reported")
	return 0
}
