//go:build linux

package exposetest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// StartPrevious starts a fake connector the way the TypeScript hub
// started a transient one: `cloudflared tunnel --config <config> run`,
// detached (its parent, a shell, exits at once, so it is nobody's child
// here). It returns once the connector has started (it says so on the
// pipe both share), with its pid; cleanup SIGKILLs it if it still runs.
// Install must have put the fake on PATH.
func StartPrevious(t testing.TB, configPath string) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	// The shell prints the background pid; the connector's stderr (its
	// "INF Starting tunnel" line) goes down the same pipe.
	sh := exec.Command("/bin/sh", "-c", `cloudflared tunnel --config "$1" run 2>&1 </dev/null & echo $!`, "sh", configPath)
	sh.Stdout, sh.Stderr = w, w
	err = sh.Run()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The pid and the connector's first line come in either order.
	br := bufio.NewReader(r)
	pid, started := 0, false
	for pid == 0 || !started {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("starting the previous hub's connector: %q %v", line, err)
		}
		if n, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
			pid = n
		}
		started = started || strings.Contains(line, "INF Starting tunnel")
	}
	t.Cleanup(func() {
		if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); bytes.Contains(cmd, []byte(configPath)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pid
}

// Connectors lists the live processes (by /proc) running
// `cloudflared tunnel --config <configPath> run`.
func Connectors(t testing.TB, configPath string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		argv := strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
		if len(argv) == 5 && filepath.Base(argv[0]) == "cloudflared" && argv[1] == "tunnel" &&
			argv[2] == "--config" && argv[3] == configPath && argv[4] == "run" {
			out = append(out, pid)
		}
	}
	return out
}

// Running reports whether pid runs (a zombie does not).
func Running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && len(b) > 0
}
