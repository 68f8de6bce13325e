package expose

import (
	"os"
	"testing"

	"github.com/openparachute/parachute/internal/expose/exposetest"
)

// TestMain lets this test binary play tailscale and cloudflared.
func TestMain(m *testing.M) {
	exposetest.RunIfFake()
	os.Exit(m.Run())
}

// Short names for the fakes' helpers.
var (
	fakes     = exposetest.Install
	writeFake = exposetest.Write
	argvLog   = exposetest.Argv
	fakeFile  = exposetest.Read
)

const (
	fakeTunnelID      = exposetest.TunnelID
	tsStatusRunning   = exposetest.StatusRunning
	tsStatusLoggedOut = exposetest.StatusLoggedOut
)
