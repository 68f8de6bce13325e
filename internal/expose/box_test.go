package expose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/expose/state"
	"github.com/openparachute/parachute/internal/servicemgr"
	"github.com/openparachute/parachute/internal/testenv"
)

// The connector service under a real systemd 252, booted by systemd-box in
// a throwaway root (never this machine's own systemd). The host test binds
// a copy of this test binary into the box and runs TestConnectorInBox
// there; inside, the same binary is the fake cloudflared the unit runs.
const (
	exposeInBoxEnv = "EXPOSE_IN_BOX"
	exposeBoxDir   = "/opt/expose-test"
)

func TestConnectorBox(t *testing.T) {
	if os.Getenv(exposeInBoxEnv) != "" {
		t.Skip("already inside the box")
	}
	dir := testenv.SelfDir(t, "expose.test")
	box := testenv.BootBox(t, dir+":"+exposeBoxDir)
	box.RunTest(t, 90*time.Second, exposeBoxDir+"/expose.test", "TestConnectorInBox", exposeInBoxEnv+"=1")
}

// TestConnectorInBox: cloudflare up installs the connector as an enabled,
// running system unit; `systemctl kill` (SIGTERM, a clean exit for
// cloudflared) brings it back; off removes it.
func TestConnectorInBox(t *testing.T) {
	if os.Getenv(exposeInBoxEnv) == "" {
		t.Skip("runs inside systemd-box (TestConnectorBox)")
	}
	fakes(t)
	// The fakes' directory first, then the box's own tools (systemctl).
	t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin:/usr/bin:/sbin:/bin")
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".cloudflared"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	writeFake(t, filepath.Join(home, ".cloudflared"), "cert.pem", "cert")
	m, err := servicemgr.Detect(servicemgr.HostDetectOptions())
	if err != nil || m.Kind() != servicemgr.KindSystemdSystem {
		t.Fatalf("Detect as root in the box = %v, %v; want systemd-system", m, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	root := t.TempDir()
	cf := &Cloudflare{Home: home, Getenv: func(string) string { return "" }}
	_, tun, err := cf.Up(ctx, CloudflareOptions{Root: root, Hostname: "hub.example.com", HubPort: 1939, Mgr: m, User: "root"})
	if err != nil {
		t.Fatal(err)
	}
	path := servicemgr.UnitPath(m.Kind(), home, tun.Unit)
	removed := false
	t.Cleanup(func() {
		if !removed {
			m.Uninstall(context.Background(), tun.Unit, path)
		}
	})
	if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/" + tun.Unit); err != nil {
		t.Errorf("connector not enabled at boot: %v", err)
	}
	first := waitRunning(t, m, tun.Unit, path, 0)

	if out, err := exec.CommandContext(ctx, "systemctl", "kill", tun.Unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl kill: %v\n%s", err, out)
	}
	second := waitRunning(t, m, tun.Unit, path, first)
	t.Logf("connector pid %d → %d after systemctl kill", first, second)

	if _, err := cf.Down(ctx, root, "", m, nil); err != nil {
		t.Fatal(err)
	}
	removed = true
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("unit file still there: %v", err)
	}
	st, _ := m.State(ctx, tun.Unit, path)
	if st.Installed || st.ActiveState == "active" {
		t.Errorf("after off: %+v", st)
	}
	if err := exec.Command("kill", "-0", fmt.Sprint(second)).Run(); err == nil {
		t.Errorf("connector pid %d still alive after off", second)
	}
	if s, _ := state.Load(root); len(s.Providers) != 0 {
		t.Errorf("state after off: %+v", s.Providers)
	}
}

// waitRunning polls the manager (with a deadline, not a sleep) until the
// unit runs with a main PID other than not.
func waitRunning(t *testing.T, m servicemgr.Manager, name, path string, not int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // RestartSec=5 s, plus systemd's own pace
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := m.State(context.Background(), name, path)
		if err == nil && st.ActiveState == "active" && st.SubState == "running" && st.MainPID > 0 && st.MainPID != not {
			return st.MainPID
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not running with a new pid (not %d): %+v, %v", name, not, st, err)
		}
		<-tick.C
	}
}
