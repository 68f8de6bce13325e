// Package exposetest holds the recording fakes of `tailscale` and
// `cloudflared` that the expose and CLI tests put on PATH. It is imported
// only by tests.
package exposetest

// The recording fakes of `tailscale` and `cloudflared`: the test binary
// itself, linked into a temp dir on PATH under those names. TestMain sees
// the name it was run as and plays the tool. Each fake appends its argv
// (one JSON array per line) to $FAKE_DIR/argv.log and keeps its state in
// $FAKE_DIR, so tests assert exact argv sequences and the tool's view.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// RunIfFake plays the fake when the test binary was started under a fake's
// name; call it first thing in TestMain.
func RunIfFake() {
	switch filepath.Base(os.Args[0]) {
	case "tailscale":
		os.Exit(fakeTailscale(os.Args[1:]))
	case "cloudflared":
		os.Exit(fakeCloudflared(os.Args[1:]))
	}
}

// fakeDir is the fake's state directory.
func fakeDir() string { return os.Getenv("FAKE_DIR") }

func record(tool string, args []string) {
	if fakeDir() == "" {
		return // run by a service manager, outside a test's environment
	}
	b, _ := json.Marshal(append([]string{tool}, args...))
	f, err := os.OpenFile(filepath.Join(fakeDir(), "argv.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}

// Read returns a fake state file's content.
func Read(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(fakeDir(), name))
	return string(b), err == nil
}

// The JSON `tailscale status --json` prints, trimmed to what we read plus
// enough of the rest to be realistic.
// StatusRunning is `tailscale status --json` on a logged-in node (%s: version).
const StatusRunning = `{
  "Version": "%s",
  "TUN": true,
  "BackendState": "Running",
  "AuthURL": "",
  "TailscaleIPs": ["100.101.102.103", "fd7a:115c:a1e0::1"],
  "Self": {
    "ID": "nABC123CNTRL",
    "HostName": "box",
    "DNSName": "box.tail1234.ts.net.",
    "OS": "linux",
    "Online": true,
    "CapMap": {"funnel": null, "https": null, "https://tailscale.com/cap/funnel-ports?ports=443,8443,10000": null}
  },
  "MagicDNSSuffix": "tail1234.ts.net",
  "CurrentTailnet": {"Name": "user@example.com", "MagicDNSSuffix": "tail1234.ts.net", "MagicDNSEnabled": true}
}`

// Logged out, tailscaled still answers: exit 0, no DNSName.
// StatusLoggedOut is the same when logged out.
const StatusLoggedOut = `{
  "Version": "%s",
  "BackendState": "NeedsLogin",
  "AuthURL": "",
  "TailscaleIPs": null,
  "Self": {"ID": "", "HostName": "box", "DNSName": "", "OS": "linux", "Online": false},
  "CurrentTailnet": null
}`

// tsServe is the fake's serve config, ipn.ServeConfig's JSON shape.
type tsServe struct {
	TCP         map[string]map[string]bool                         `json:"TCP,omitempty"`
	Web         map[string]map[string]map[string]map[string]string `json:"Web,omitempty"` // hostport → "Handlers" → mount → {"Proxy": …}
	AllowFunnel map[string]bool                                    `json:"AllowFunnel,omitempty"`
}

func loadServe() *tsServe {
	s := &tsServe{}
	if b, ok := Read("serve.json"); ok {
		if err := json.Unmarshal([]byte(b), s); err != nil {
			panic(err)
		}
	}
	return s
}

func (s *tsServe) save() {
	b, _ := json.MarshalIndent(s, "", "  ")
	os.WriteFile(filepath.Join(fakeDir(), "serve.json"), b, 0o600)
}

func fakeTailscale(args []string) int {
	record("tailscale", args)
	version, _ := Read("version")
	version = strings.TrimSpace(version)
	v := parseVersion(version)
	if _, down := Read("daemon-down"); down && (len(args) == 0 || args[0] != "version") {
		fmt.Fprintln(os.Stderr, "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)")
		return 1
	}
	switch {
	case len(args) == 1 && args[0] == "version":
		fmt.Printf("%s\n  tailscale commit: 0123456789abcdef\n  other commit: fedcba9876543210\n  go version: go1.24.1\n", version)
		return 0
	case slices.Equal(args, []string{"status", "--json"}):
		if _, out := Read("logged-out"); out {
			fmt.Printf(StatusLoggedOut+"\n", version)
			return 0
		}
		fmt.Printf(StatusRunning+"\n", version)
		return 0
	case slices.Equal(args, []string{"serve", "status", "--json"}):
		b, _ := json.Marshal(loadServe())
		if string(b) == "{}" {
			b = []byte("{}")
		}
		fmt.Println(string(b))
		return 0
	case len(args) > 1 && (args[0] == "serve" || args[0] == "funnel"):
		if _, out := Read("logged-out"); out {
			fmt.Fprintln(os.Stderr, "serve config: you must be logged in to use serve")
			return 1
		}
		return fakeServe(v, args)
	}
	fmt.Fprintf(os.Stderr, "fake tailscale: unknown command %q\n", args)
	return 2
}

// fakeServe applies `serve|funnel [--bg] [--funnel] --https=N --set-path=M target|off`.
func fakeServe(v [3]int, args []string) int {
	verb := args[0]
	var port, mount, target string
	funnel := verb == "funnel"
	for _, a := range args[1:] {
		switch {
		case a == "--bg":
		case a == "--funnel":
			if atLeast(v, 1, 82) {
				fmt.Fprintln(os.Stderr, "flag provided but not defined: -funnel")
				return 2
			}
			funnel = true
		case strings.HasPrefix(a, "--https="):
			port = strings.TrimPrefix(a, "--https=")
		case strings.HasPrefix(a, "--set-path="):
			mount = strings.TrimPrefix(a, "--set-path=")
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(os.Stderr, "flag provided but not defined: %s\n", a)
			return 2
		default:
			target = a
		}
	}
	if verb == "funnel" && !atLeast(v, 1, 52) {
		fmt.Fprintln(os.Stderr, "usage: tailscale funnel <serve-port> {on|off}")
		return 2
	}
	hp := "box.tail1234.ts.net:" + port
	s := loadServe()
	if target == "off" {
		h := s.Web[hp]["Handlers"]
		if _, ok := h[mount]; !ok {
			fmt.Fprintln(os.Stderr, "error: handler does not exist")
			return 1
		}
		delete(h, mount)
		if len(h) == 0 {
			delete(s.Web, hp)
			delete(s.TCP, port)
			delete(s.AllowFunnel, hp)
		}
		s.save()
		return 0
	}
	if s.Web == nil {
		s.Web = map[string]map[string]map[string]map[string]string{}
		s.TCP = map[string]map[string]bool{}
	}
	if s.Web[hp] == nil {
		s.Web[hp] = map[string]map[string]map[string]string{"Handlers": {}}
	}
	s.Web[hp]["Handlers"][mount] = map[string]string{"Proxy": strings.TrimRight(target, "/")}
	s.TCP[port] = map[string]bool{"HTTPS": true}
	if funnel {
		if s.AllowFunnel == nil {
			s.AllowFunnel = map[string]bool{}
		}
		s.AllowFunnel[hp] = true
	}
	s.save()
	fmt.Printf("Available on the internet:\n\nhttps://box.tail1234.ts.net%s\n|-- proxy %s\n\nServe started and running in the background.\n", mount, target)
	return 0
}

// Install puts tailscale and cloudflared (this test binary) on PATH and
// returns the fake's state dir.
func Install(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, dir := t.TempDir(), t.TempDir()
	for _, name := range []string{"tailscale", "cloudflared"} {
		if err := os.Symlink(exe, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv("FAKE_DIR", dir)
	return dir
}

// Write writes a fake state file (version, logged-out, daemon-down,
// serve.json, dns-fail, tunnels.json).
func Write(t testing.TB, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Argv returns the recorded argv lines since the last call, and clears
// them.
func Argv(t testing.TB, dir string) [][]string {
	t.Helper()
	path := filepath.Join(dir, "argv.log")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var argv []string
		if err := json.Unmarshal([]byte(line), &argv); err != nil {
			t.Fatal(err)
		}
		out = append(out, argv)
	}
	return out
}

func parseVersion(s string) [3]int {
	var v [3]int
	core, _, _ := strings.Cut(strings.TrimSpace(s), "-")
	for i, p := range strings.SplitN(core, ".", 3) {
		v[i], _ = strconv.Atoi(p)
	}
	return v
}

func atLeast(v [3]int, major, minor int) bool {
	return v[0] > major || (v[0] == major && v[1] >= minor)
}
