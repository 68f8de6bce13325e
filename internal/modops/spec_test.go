package modops

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/manifest"
)

func TestChildEnv(t *testing.T) {
	var ignored []string
	got := childEnv(
		[]string{"PATH=/bin", "PORT=1939", "NOTIFY_SOCKET=/run/x", "PARACHUTE_HUB_ORIGIN=http://stale"},
		1940, "https://live",
		[]manifest.EnvVar{{Key: "SCRIBE_URL", Value: "http://127.0.0.1:3200"}, {Key: "PORT", Value: "9999"}, {Key: "PARACHUTE_HUB_ORIGIN", Value: "http://x"}},
		func(k string) { ignored = append(ignored, k) },
	)
	want := []string{"PATH=/bin", "PORT=1940", "PARACHUTE_HUB_ORIGIN=https://live", "SCRIBE_URL=http://127.0.0.1:3200"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("childEnv (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"PORT", "PARACHUTE_HUB_ORIGIN"}, ignored); d != "" {
		t.Errorf("ignored keys (-want +got):\n%s", d)
	}
}
