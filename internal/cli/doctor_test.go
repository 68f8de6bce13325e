package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/doctor"
	"github.com/openparachute/parachute/internal/servicemgr"
)

// withDoctor makes `parachute doctor` run with probes that see a hub that
// does not answer (an error) or one that does (all fine).
func withDoctor(t *testing.T, hubUp bool) {
	t.Helper()
	root := t.TempDir()
	t.Setenv("PARACHUTE_HOME", root)
	if hubUp {
		mustDo(t, os.WriteFile(filepath.Join(root, "operator.token"), []byte("tok"), 0o600))
	}
	old := newDoctor
	newDoctor = func(_ *env, paths config.Paths) *doctor.Doctor {
		return &doctor.Doctor{Paths: paths, Probes: doctor.Probes{
			Kind: servicemgr.KindNone, HubPort: 1939,
			Health: func(context.Context) error {
				if hubUp {
					return nil
				}
				return context.DeadlineExceeded
			},
		}}
	}
	t.Cleanup(func() { newDoctor = old })
}

func TestDoctorExitCodesAndOutput(t *testing.T) {
	withDoctor(t, false)
	code, out, _ := runCLI(t, "doctor")
	if code != ExitFail || !strings.Contains(out, "✗ hub ") || !strings.Contains(out, "    fix: parachute serve\n") ||
		!strings.Contains(out, "1 error(s)") {
		t.Errorf("doctor with the hub down = %d:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "doctor", "--json")
	var rep struct {
		OK       bool `json:"ok"`
		Findings []struct{ Check, Severity, Seen, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitFail || rep.OK || len(rep.Findings) < 2 {
		t.Errorf("doctor --json = %d, %v:\n%s", code, err, out)
	}

	withDoctor(t, true)
	if code, out, _ := runCLI(t, "doctor"); code != ExitOK || !strings.Contains(out, "✓ hub ") {
		t.Errorf("doctor with the hub up = %d:\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "doctor", "extra"); code != ExitUsage {
		t.Errorf("doctor extra = %d, want %d", code, ExitUsage)
	}
}
