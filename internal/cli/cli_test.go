package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPermuteFlags(t *testing.T) {
	cases := []struct {
		in, want []string
	}{
		{[]string{"logs", "vault", "-f"}, []string{"logs", "-f", "vault"}},
		{[]string{"logs", "vault", "-n", "5", "-f"}, []string{"logs", "-n", "5", "-f", "vault"}},
		{[]string{"logs", "-f", "vault"}, []string{"logs", "-f", "vault"}},
		{[]string{"auth", "rotate-operator", "--scope-set", "auth"}, []string{"auth", "rotate-operator", "--scope-set", "auth"}},
		{[]string{"start", "vault", "--", "-x"}, []string{"start", "vault", "--", "-x"}},
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
