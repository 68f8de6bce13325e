package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/expose/exposetest"
	"github.com/openparachute/parachute/internal/hubclient"
)

// TestExposeSummaryShowsTheHubsOrigin: with hub_settings.hub_origin set
// (PUT /api/settings/hub-origin), the admin's origin outranks the exposure
// (issue 11's precedence), so the summary names the origin the running
// hub really mints with and gives its modules, not the exposed host the
// CLI would compute without hub.db.
func TestExposeSummaryShowsTheHubsOrigin(t *testing.T) {
	fake, root, h := exposeEnv(t, false, "")
	exposetest.Write(t, fake, "version", "1.82.0")
	const admin = "https://hub.example.com"
	c := hubclient.New(config.Paths{Root: root})
	body := map[string]any{"hub_origin": admin}
	if err := c.JSON(context.Background(), http.MethodPut, "/api/settings/hub-origin", body, nil); err != nil {
		t.Fatal(err)
	}
	mark := h.out.mark()
	code, out, errOut := runCLI(t, "expose", "tailnet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"OAuth issuer: " + admin + "\n",
		"Discovery: " + admin + "/.well-known/parachute.json",
		"✓ restarted vault with PARACHUTE_HUB_ORIGIN=" + admin + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	checkRestarted(t, h, mark, admin)

	code, out, errOut = runCLI(t, "expose", "tailnet", "off", "--json")
	if code != 0 || !strings.Contains(out, `"hub_origin": "`+admin+`"`) {
		t.Errorf("off --json: exit %d\n%s\n%s", code, out, errOut)
	}
}
