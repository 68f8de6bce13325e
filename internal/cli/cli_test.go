package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/api"
)

func TestPermuteFlags(t *testing.T) {
	cases := []struct {
		in, want []string
	}{
		{[]string{"logs", "vault", "-f"}, []string{"logs", "-f", "vault"}},
		{[]string{"logs", "vault", "-n", "5", "-f"}, []string{"logs", "-n", "5", "-f", "vault"}},
		{[]string{"logs", "-f", "vault"}, []string{"logs", "-f", "vault"}},
		{[]string{"auth", "rotate-operator", "--scope-set", "auth"}, []string{"auth", "rotate-operator", "--scope-set", "auth"}},
		{[]string{"auth", "mint-token", "--scope", "vault:default:read", "--aud", "scribe", "--sub", "s"},
			[]string{"auth", "mint-token", "--scope", "vault:default:read", "--aud", "scribe", "--sub", "s"}},
		{[]string{"start", "vault", "--", "-x"}, []string{"start", "vault", "--", "-x"}},
		{[]string{"install", "vault", "--vault-name", "work"}, []string{"install", "--vault-name", "work", "vault"}},
		{[]string{"status"}, []string{"status"}},
	}
	for _, c := range cases {
		if d := cmp.Diff(c.want, permuteFlags(c.in)); d != "" {
			t.Errorf("permuteFlags(%q) (-want +got):\n%s", c.in, d)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	writeTable(&b, []string{"SERVICE", "PORT", "STATE"},
		[][]string{{"parachute-vault", "1940", "active"}, {"x", "1", "-"}},
		[][]string{{"→ http://127.0.0.1:1940/vault/default/mcp"}})
	want := "SERVICE          PORT  STATE\n" +
		"parachute-vault  1940  active\n" +
		"  → http://127.0.0.1:1940/vault/default/mcp\n" +
		"x                1     -\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
}

func TestHumanDuration(t *testing.T) {
	cases := map[time.Duration]string{
		45 * time.Second:                  "45s",
		3*time.Minute + 12*time.Second:    "3m12s",
		2*time.Hour + 5*time.Minute:       "2h05m",
		4*24*time.Hour + 3*time.Hour + 59: "4d03h",
	}
	for d, want := range cases {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestHubRowState(t *testing.T) {
	seven := 7
	cases := []struct {
		name  string
		m     managerView
		up    bool
		state string
	}{
		{"foreground up", managerView{state: "none", label: "foreground"}, true, stateActive},
		{"foreground down", managerView{state: "none", label: "foreground"}, false, stateInactive},
		{"container down", managerView{state: "none", label: "container"}, false, stateFailing},
		{"unit failed", managerView{state: "failed", lastExit: &seven}, false, stateFailing},
		{"unit active, no health", managerView{state: "active"}, false, stateFailing},
		{"unit activating", managerView{state: "activating"}, false, statePending},
		{"unit inactive", managerView{state: "inactive"}, false, stateInactive},
	}
	for _, c := range cases {
		got, _ := hubRowState(c.m, c.up)
		if got != c.state {
			t.Errorf("%s: state = %q, want %q", c.name, got, c.state)
		}
	}
}

func TestModuleRowStateHealth(t *testing.T) {
	running := "running"
	health := func(ok bool, code int, errText string) *api.Health {
		return &api.Health{OK: ok, StatusCode: code, URL: "http://127.0.0.1:1940/vault/default/health", Error: errText}
	}
	cases := []struct {
		name  string
		h     *api.Health
		state string
		note  string // substring of the notes; "" means none
	}{
		{"200", health(true, 200, ""), stateActive, ""},
		{"401 is up", health(true, 401, ""), stateActive, ""},
		{"404 names the health path", health(false, 404, ""), stateFailing,
			"probe: http://127.0.0.1:1940/vault/default/health: HTTP 404 — nothing answers on the declared health path; check `health` for parachute-vault in services.json"},
		{"503", health(false, 503, ""), stateFailing, "HTTP 503"},
		{"no answer", health(false, 0, "connection refused"), stateFailing, ": connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			li := api.ModuleInfo{Short: "vault", Name: "parachute-vault", SupervisorStatus: &running, Ready: true, Health: c.h}
			state, notes := moduleRowState(li)
			joined := strings.Join(notes, "\n")
			if state != c.state || (c.note == "" && joined != "") || !strings.Contains(joined, c.note) {
				t.Errorf("state %q, notes %q; want %q with a note containing %q", state, notes, c.state, c.note)
			}
		})
	}
}

func TestStatusTableShowsHealthCode(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	st := &statusJSON{Modules: []moduleStatusJSON{
		{Name: "parachute-vault", Port: 1940, State: stateActive, HealthStatus: 401, URL: "u1", Source: "npm"},
		{Name: "web", Port: 1941, State: stateActive, HealthStatus: 200, URL: "u2", Source: "npm"},
		{Name: "lost", Port: 1942, State: stateFailing, HealthStatus: 404, URL: "u3", Source: "npm"},
	}, Hub: hubStatusJSON{Port: 1939, State: stateActive}}
	printStatus(e, st)
	rowOf := func(name string) string {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, name+" ") {
				return l
			}
		}
		return ""
	}
	for name, cell := range map[string]string{"parachute-vault": "  active (401)  ", "web": "  active  ", "lost": "  failing (404)  "} {
		if !strings.Contains(rowOf(name), cell) {
			t.Errorf("row %s lacks STATE %q:\n%s", name, cell, out.String())
		}
	}
}
