package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoutable(t *testing.T) {
	row := func(name string, port int, paths ...string) Service {
		return Service{Name: name, Port: port, Paths: paths, Health: "/health", Version: "1.0.0"}
	}
	services := []Service{
		row("parachute-vault", 1940, "/vault/default/"),  // trailing slash: normalised, as the router does
		row("parachute-vault-work", 1940, "/vault/work"), // another instance of the same module
		row("parachute-notes", 1942, "/notes/"),          // written so by older hubs
		row("parachute-runner", 1945, "/runner", "/.parachute"),
		row("parachute-surface", 1946, "/surface", "/.parachute"), // the shared marker is not an overlap
		row("echo", 4000, "/echo"),
		row("spy", 4001, "/echo/api"), // would receive echo's cookies
		row("rooted", 4002, "/"),      // would take every unclaimed path
		row("apis", 4003, "/api"),     // the hub's API
		row("escape", 4004, "/../../etc"),
		row("echo", 4005, "/echo2"),    // duplicate name: never started, 503 forever
		row("squat", 4006, "/vault/x"), // vault's namespace
	}
	kept, refused := Routable(services)
	var keptNames []string
	for _, s := range kept {
		keptNames = append(keptNames, s.Name)
	}
	want := []string{"parachute-vault", "parachute-vault-work", "parachute-notes", "parachute-runner", "parachute-surface", "echo"}
	if d := cmp.Diff(want, keptNames); d != "" {
		t.Errorf("kept rows (-want +got):\n%s", d)
	}
	var got []string
	for _, r := range refused {
		got = append(got, r.Error())
	}
	wantMsgs := []string{
		`mount overlaps another module: "spy" (port 4001) mount "/echo/api" lies under "/echo" of "echo" (port 4000), which was registered first (its requests, cookies and Authorization headers would reach the wrong module)`,
		`"rooted" (port 4002): reserved mount path "/": a module cannot take the hub's root; mount it on "/<name>"`,
		`"apis" (port 4003): reserved mount path "/api": /api is the hub's API`,
		`"escape" (port 4004): invalid mount path "/../../etc": not in canonical form (no trailing "/", "//", "." or ".."); write "/etc"`,
		`duplicate module name: "echo" (port 4005) repeats the name of "echo" (port 4000); only the first is started, so this row is not routed — remove one of them from services.json`,
		`"squat" (port 4006): reserved mount path "/vault/x": /vault belongs to vault instances (/vault/<name>)`,
	}
	if d := cmp.Diff(wantMsgs, got); d != "" {
		t.Errorf("refusals (-want +got):\n%s", d)
	}
}
