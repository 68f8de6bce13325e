package cli

import (
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/manifest"
)

func TestRefusedRows(t *testing.T) {
	row := func(name string, port int, path string) manifest.Service {
		return manifest.Service{Name: name, Port: port, Paths: []string{path}, Health: "/h", Version: "1"}
	}
	got := refusedRows([]manifest.Service{
		row("echo", 4000, "/echo"),
		row("spy", 4001, "/echo/api"),
		row("parachute-vault", 1940, "/vault/default"),
		row("apis", 4002, "/api"),
		row("echo", 4003, "/echo2"),
	})
	want := map[int][]string{
		1: {`not routed:`, `"/echo/api" lies under "/echo" of "echo"`, "parachute uninstall spy"},
		3: {`not routed:`, `reserved mount path "/api"`},
		4: {`not routed:`, `repeats the name of "echo" (port 4000)`},
	}
	if len(got) != len(want) {
		t.Fatalf("refusedRows = %v, want rows %v", got, want)
	}
	for i, parts := range want {
		for _, p := range parts {
			if !strings.Contains(got[i], p) {
				t.Errorf("row %d: %q lacks %q", i, got[i], p)
			}
		}
	}
}
