package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/supervisor"
	"github.com/openparachute/parachute/internal/testenv"
)

// childModeEnv turns the test binary into a module: it writes its
// environment to $HUB_TEST_ENV_OUT, then serves HTTP on $PORT until it is
// stopped. A test sets it in the module's .env, so reaching the child at
// all proves .env is read.
const childModeEnv = "HUB_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childModeEnv) == "printenv" {
		os.Exit(printEnvChild())
	}
	os.Exit(m.Run())
}

func printEnvChild() int {
	out := os.Getenv("HUB_TEST_ENV_OUT")
	b, _ := json.Marshal(os.Environ())
	// Rename into place so the test never reads half a file.
	if err := os.WriteFile(out+".tmp", b, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	return 0
}

// handedOut holds every port freePort returned in this test process.
var handedOut sync.Map

// freePort asks the kernel for a port nothing listens on, and never
// returns the same port twice in one test binary: the kernel may hand a
// just-closed ephemeral port out again, and two modules of one
// services.json on the same port are refused ("duplicate port").
func freePort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, dup := handedOut.LoadOrStore(port, true); !dup {
			return port
		}
	}
}

// A real child started from a hub that systemd launched (NOTIFY_SOCKET,
// LISTEN_*, WATCHDOG_*, INVOCATION_ID, ... in its environment), with a .env
// that sets the same names, sees none of them; ordinary .env values and
// PORT/PARACHUTE_HUB_ORIGIN from the hub still arrive.
func TestChildEnvStripsManagerVariables(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hubEnv := map[string]string{
		"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1",
		"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "hub", "INVOCATION_ID": "0123456789abcdef",
		"JOURNAL_STREAM": "8:12345", "MANAGERPID": "1", "SYSTEMD_EXEC_PID": "1", "MAINPID": "1",
		supervisor.DelegationEnv: "1",
	}
	for k, v := range hubEnv {
		t.Setenv(k, v)
	}
	for _, fromDotenv := range []bool{false, true} {
		name := map[bool]string{false: "inherited from the hub", true: "set in .env too"}[fromDotenv]
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			p := config.Paths{Root: root}
			envOut := filepath.Join(t.TempDir(), "env.json")
			var dotenv strings.Builder
			if fromDotenv {
				for k := range hubEnv {
					fmt.Fprintf(&dotenv, "%s=from-dotenv\n", k)
				}
			}
			fmt.Fprintf(&dotenv, "%s=printenv\nHUB_TEST_ENV_OUT=%s\nLISTEN_ADDR=kept\nPORT=1\n", childModeEnv, envOut)
			if err := os.MkdirAll(filepath.Dir(p.ModuleEnv("envmod")), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p.ModuleEnv("envmod"), []byte(dotenv.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			install := t.TempDir()
			if err := os.MkdirAll(filepath.Join(install, ".parachute"), 0o700); err != nil {
				t.Fatal(err)
			}
			mod, _ := json.Marshal(map[string]any{"name": "envmod", "port": 0, "startCmd": []string{exe, "-test.run=^$"}})
			if err := os.WriteFile(manifest.ModulePath(install), mod, 0o600); err != nil {
				t.Fatal(err)
			}

			out := &testenv.SyncBuffer{}
			sup := supervisor.New(supervisor.Options{Output: out})
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := sup.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			})
			s := New(Options{Paths: p, Supervisor: sup, Origins: Origins{Port: 1939}})
			port := freePort(t)
			spec, warns, err := s.ops.BuildSpec(manifest.Service{Name: "envmod", Port: port, InstallDir: install})
			if err != nil {
				t.Fatal(err)
			}
			for k := range hubEnv {
				if fromDotenv && !slices.ContainsFunc(warns, func(w string) bool { return strings.Contains(w, "ignoring "+k+" ") }) {
					t.Errorf("no warning about %s in .env; warnings: %q", k, warns)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := sup.Start(ctx, spec); err != nil {
				t.Fatalf("Start: %v\nchild output:\n%s", err, out.String())
			}
			b, err := os.ReadFile(envOut)
			if err != nil {
				t.Fatal(err)
			}
			var env []string
			if err := json.Unmarshal(b, &env); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
			}
			for k := range hubEnv {
				if v, ok := got[k]; ok {
					t.Errorf("child has %s=%s", k, v)
				}
			}
			for k, want := range map[string]string{
				"PORT": fmt.Sprint(port), "PARACHUTE_HUB_ORIGIN": "http://127.0.0.1:1939", "LISTEN_ADDR": "kept",
			} {
				if got[k] != want {
					t.Errorf("child has %s=%q, want %q", k, got[k], want)
				}
			}

		})
	}
}
