package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cgroupScenario: under the unit (Delegate=yes) the hub lives in
// <unit>/hub and each module in <unit>/mod-<short>. A module whose
// grandchild setsid()s away from its process group and ignores SIGTERM is
// still stopped whole by `parachute stop`, status --json reports its memory
// and CPU, and the module's cgroup is removed when it stops.
func cgroupScenario(t *testing.T, s *scope) {
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("journalctl", "--no-pager", "-o", "cat", "-n", "60").CombinedOutput()
			t.Logf("journal:\n%s", out)
		}
	})
	pidfile := filepath.Join(s.root, "grandchild.pid")
	s.register(module{name: "web", mode: []string{"setsid-grandchild", pidfile}, port: 2021})
	s.must("init")
	waitFor(t, "module web active under the unit", 20*time.Second, func() bool {
		out, _ := s.run("status")
		return rowState(out, "web") == "active"
	})

	unitCG := s.systemctl("show", "-p", "ControlGroup", "--value", "parachute-hub.service")
	if unitCG == "" {
		t.Fatal("the hub unit has no ControlGroup")
	}
	if got := cgroupOf(t, s.mainPID()); got != unitCG+"/hub" {
		t.Fatalf("hub (MainPID %d) in cgroup %q, want %q", s.mainPID(), got, unitCG+"/hub")
	}
	web := cgroupModule(t, s, "web")
	if web.PID == nil || web.Cgroup == "" || !strings.HasSuffix(web.Cgroup, unitCG+"/mod-web") {
		t.Fatalf("web in status --json: pid %v, cgroup %q; want a cgroup ending in %s/mod-web", web.PID, web.Cgroup, unitCG)
	}
	if fi, err := os.Stat(web.Cgroup); err != nil || !fi.IsDir() {
		t.Fatalf("module cgroup %s: %v", web.Cgroup, err)
	}
	if web.MemoryBytes == nil || *web.MemoryBytes <= 0 || web.CPUSeconds == nil || *web.CPUSeconds <= 0 {
		t.Fatalf("web usage in status --json: memory %v, cpu %v; want both > 0", web.MemoryBytes, web.CPUSeconds)
	}
	var gc int
	waitFor(t, "the grandchild's pidfile", 10*time.Second, func() bool {
		b, err := os.ReadFile(pidfile)
		gc, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && gc > 0
	})
	if sid, pgid := procField(t, gc, 3), procField(t, gc, 2); pgid == *web.PID || sid != gc {
		t.Fatalf("grandchild %d: pgid %d sid %d; want its own session, outside group %d", gc, pgid, sid, *web.PID)
	}
	if got := cgroupOf(t, gc); got != unitCG+"/mod-web" {
		t.Fatalf("grandchild %d in cgroup %q, want %s/mod-web", gc, got, unitCG)
	}

	if out := s.must("stop", "web"); !strings.Contains(out, "stopped") {
		t.Fatalf("stop web:\n%s", out)
	}
	for _, pid := range []int{*web.PID, gc} {
		if procAlive(pid) {
			t.Errorf("pid %d of web survived `parachute stop web`", pid)
		}
	}
	if _, err := os.Stat(web.Cgroup); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("module cgroup %s still there after stop (%v)", web.Cgroup, err)
	}
	// A new start gets a new cgroup; the hub survives it all.
	if out := s.must("start", "web"); !strings.Contains(out, "web started") {
		t.Fatalf("start web:\n%s", out)
	}
	if again := cgroupModule(t, s, "web"); again.Cgroup != web.Cgroup {
		t.Errorf("restarted web in cgroup %q, want %q", again.Cgroup, web.Cgroup)
	}
	s.must("migrate", "--teardown")
	waitFor(t, "the hub to be gone after teardown", 15*time.Second, func() bool { return !healthy(1939) })
	if gc2, _ := os.ReadFile(pidfile); len(gc2) > 0 {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(gc2))); procAlive(pid) {
			t.Errorf("grandchild %d survived the teardown", pid)
		}
	}
}

// cgroupModDoc is the part of a status --json module this scenario reads.
type cgroupModDoc struct {
	Short       string   `json:"short"`
	PID         *int     `json:"pid"`
	Cgroup      string   `json:"cgroup"`
	MemoryBytes *int64   `json:"memory_bytes"`
	CPUSeconds  *float64 `json:"cpu_seconds"`
}

func cgroupModule(t *testing.T, s *scope, short string) cgroupModDoc {
	t.Helper()
	out, _ := s.run("status", "--json")
	var doc struct {
		Modules []cgroupModDoc `json:"modules"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, m := range doc.Modules {
		if m.Short == short {
			return m
		}
	}
	t.Fatalf("no %s in status --json:\n%s", short, out)
	return cgroupModDoc{}
}

// cgroupOf returns pid's cgroup v2 path ("0::" line of /proc/<pid>/cgroup).
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatalf("cgroup of %d: %v", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}

// procField returns field i (0 = state) after the command name of
// /proc/<pid>/stat, as an int.
func procField(t *testing.T, pid, i int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("stat of %d: %v", pid, err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	n, _ := strconv.Atoi(f[i])
	return n
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	return len(f) > 0 && f[0] != "Z"
}
