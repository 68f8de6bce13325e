package unit

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"
)

// parsePlist decodes a rendered plist into generic values, independently of
// the struct the renderer used.
func parsePlist(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var got map[string]any
	format, err := plist.Unmarshal(data, &got)
	if err != nil {
		t.Fatalf("parsing plist: %v\n%s", err, data)
	}
	if format != plist.XMLFormat {
		t.Errorf("plist format = %d, want XML (%d)", format, plist.XMLFormat)
	}
	return got
}

func TestRenderLaunchd(t *testing.T) {
	agent := opOptions(ScopeUser)
	// XML's own metacharacters in a path must survive encoding.
	agent.Root = "/Users/o p%x/R&D <lab>/.parachute"
	daemon := opOptions(ScopeSystem)
	env := func(root string) map[string]any {
		return map[string]any{
			"PARACHUTE_HOME": root,
			"PORT":           "1939",
			"PATH":           `/usr/bin:/opt/we"ird $dir:/home/o p%x/.bun/bin:/usr/local/n/bin:/opt/homebrew/bin:/usr/local/bin:/bin:/usr/sbin:/sbin`,
			"BUN_INSTALL":    "/home/o p%x/.bun",
		}
	}
	common := func(root string) map[string]any {
		return map[string]any{
			"Label":                "computer.parachute.hub",
			"ProgramArguments":     []any{"/opt/para chute/parachute", "serve"},
			"EnvironmentVariables": env(root),
			"WorkingDirectory":     root,
			"RunAtLoad":            true,
			"KeepAlive":            map[string]any{"SuccessfulExit": false},
			"ThrottleInterval":     uint64(10),
			"ExitTimeOut":          uint64(30),
			"ProcessType":          "Interactive",
			"StandardOutPath":      root + "/hub/logs/hub.log",
			"StandardErrorPath":    root + "/hub/logs/hub.log",
		}
	}
	wantDaemon := common(opHome + "/.parachute")
	wantDaemon["UserName"] = "op"

	for _, tc := range []struct {
		name string
		opts HubOptions
		want map[string]any
	}{
		{"LaunchAgent with XML metacharacters in the root", agent, common(agent.Root)},
		{"LaunchDaemon running as op", daemon, wantDaemon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := RenderKind(KindLaunchd, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("<!-- "+cliHeader+" -->\n<plist")) {
				t.Errorf("no header comment before <plist>:\n%s", data)
			}
			if diff := cmp.Diff(tc.want, parsePlist(t, data)); diff != "" {
				t.Errorf("plist (-want +got):\n%s", diff)
			}
			checkWithPython(t, data, tc.want)
		})
	}
}

func TestLaunchdTemplate(t *testing.T) {
	s, err := LaunchdTemplateService()
	if err != nil {
		t.Fatal(err)
	}
	data, err := RenderLaunchd(s)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Label":            "computer.parachute.hub",
		"ProgramArguments": []any{"/usr/local/bin/parachute", "serve"},
		// No PARACHUTE_HOME: the hub falls back to ~/.parachute of the user.
		"EnvironmentVariables": map[string]any{
			"PORT": "1939",
			"PATH": "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		},
		"RunAtLoad":        true,
		"KeepAlive":        map[string]any{"SuccessfulExit": false},
		"ThrottleInterval": uint64(10),
		"ExitTimeOut":      uint64(30),
		"ProcessType":      "Interactive",
	}
	if diff := cmp.Diff(want, parsePlist(t, data)); diff != "" {
		t.Errorf("plist (-want +got):\n%s", diff)
	}
	if bytes.Contains(data, []byte("USERNAME")) || bytes.Contains(data, []byte("/Users/")) {
		t.Errorf("template holds a placeholder home:\n%s", data)
	}
	checkWithPython(t, data, want)
}

func TestRenderLaunchdRejects(t *testing.T) {
	spec, err := PackagedUserService()
	if err != nil {
		t.Fatal(err)
	}
	dashes, err := HubService(opOptions(ScopeUser))
	if err != nil {
		t.Fatal(err)
	}
	dashes.Header = "a -- b"
	for _, tc := range []struct {
		name string
		s    Service
		want string
	}{
		{"systemd specifiers", spec, "specifiers"},
		{"header that would end the XML comment", dashes, `"--"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := RenderLaunchd(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %s", err, tc.want)
			}
		})
	}
}

// checkWithPython parses the plist a second time with Python's plistlib,
// an implementation independent of ours, when python3 is installed.
func checkWithPython(t *testing.T, data []byte, want map[string]any) {
	t.Helper()
	// The system python first: version-manager shims (pyenv) take seconds
	// to start.
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		py, err = exec.LookPath("python3")
	}
	if err != nil {
		t.Log("python3 not found; skipping the plistlib cross-check")
		return
	}
	path := filepath.Join(t.TempDir(), "job.plist")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Decode stdout alone: Python's warnings (a missing locale, say) go
	// to stderr and are not part of the JSON.
	cmd := exec.Command(py, "-c", "import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s%s", err, out, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding plistlib's JSON: %v\n%s", err, out)
	}
	// JSON has no integer type; compare numbers as float64.
	norm, _ := json.Marshal(want)
	var wantJSON map[string]any
	if err := json.Unmarshal(norm, &wantJSON); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantJSON, got); diff != "" {
		t.Errorf("plistlib reads (-want +got):\n%s", diff)
	}
}
