package servicemgr

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"

	"github.com/coreos/go-systemd/v22/daemon"
)

// The systemd tests run against a real systemd 252 booted by systemd-box
// (../shared/tools/systemd-box) in a throwaway Debian root. The host test
// copies this test binary into the box and runs it there once per scenario
// with inBoxEnv set; inside, the same binary also serves as the units'
// daemon (helperEnv), so no other program has to be built.
const (
	inBoxEnv  = "SERVICEMGR_IN_BOX" // "root" or "user": run the in-box tests
	helperEnv = "SERVICEMGR_HELPER" // "notifyd" or "hang": act as a unit's daemon
	boxDir    = "/opt/servicemgr-test"
	boxBinary = boxDir + "/servicemgr.test"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "notifyd":
		runNotifyd()
		return
	case "hang":
		// A Type=notify daemon that never says READY=1: the start times out.
		select {}
	}
	os.Exit(m.Run())
}

// runNotifyd is a minimal Type=notify daemon: it logs, tells systemd it is
// ready and exits cleanly on SIGTERM.
func runNotifyd() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	io.WriteString(os.Stdout, "notifyd ready\n")
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		io.WriteString(os.Stderr, "sd_notify: "+err.Error()+"\n")
		os.Exit(2)
	}
	<-stop
	os.Exit(0)
}

// boxScenarios are the subtests of TestInBox, run one by one inside one box.
var boxScenarios = []string{
	"system-lifecycle",
	"failing-start",
	"dependency",
	"start-timeout",
	"not-installed",
	"bad-unit",
	"package-unit",
	"output-race",
	"user-scope",
}

// TestSystemdBox boots systemd in a box and runs the in-box scenarios there.
func TestSystemdBox(t *testing.T) {
	if os.Getenv(inBoxEnv) != "" {
		t.Skip("already inside the box")
	}
	dir := testenv.SelfDir(t, filepath.Base(boxBinary))

	box := testenv.BootBox(t, dir+":"+boxDir)

	for _, name := range boxScenarios {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := box.Run(ctx, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", inBoxEnv+"=root",
				boxBinary, "-test.run", "^TestInBox$/^"+name+"$", "-test.v", "-test.count=1")
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestInBox/"+name)) {
				t.Fatalf("in-box scenario %s: %v\n%s", name, err, out)
			}
			if testing.Verbose() {
				t.Logf("in-box output:\n%s", out)
			}
		})
	}
}
