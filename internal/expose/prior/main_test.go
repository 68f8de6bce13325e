package prior

import (
	"os"
	"os/exec"
	"testing"

	"github.com/openparachute/parachute/internal/expose/exposetest"
)

// TestMain lets this test binary play cloudflared.
func TestMain(m *testing.M) {
	exposetest.RunIfFake()
	sleepPath, _ = exec.LookPath("sleep") // before a test narrows PATH to the fakes
	os.Exit(m.Run())
}

// sleepPath is sleep(1), an unrelated program for a reused pid.
var sleepPath string
