package expose

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/openparachute/parachute/internal/expose/state"
)

// Errors the CLI turns into guidance.
var (
	// ErrNotLoggedIn: tailscale runs but this node is not on a tailnet.
	ErrNotLoggedIn = errors.New("tailscale is not logged in")
	// ErrNoFunnel: the tailnet policy does not grant this node Funnel.
	ErrNoFunnel = errors.New("this node is not allowed to use Tailscale Funnel")
	// ErrNothingRecorded: off found no record for the provider.
	ErrNothingRecorded = errors.New("no exposure recorded")
	// ErrServeConflict: tailscale already serves something else at the
	// mount we would take; it is the operator's, so we do not replace it.
	ErrServeConflict = errors.New("tailscale already serves something else there")
)

// OtherLayerError is `expose tailnet off` while the recorded Tailscale
// exposure is the public one (or the reverse): nothing is touched.
type OtherLayerError struct{ Current string }

func (e *OtherLayerError) Error() string {
	return fmt.Sprintf("the recorded Tailscale exposure is %s; run: parachute expose %s off", LayerLabel(e.Current), e.Current)
}

// LayerLabel is the reference's label for a layer.
func LayerLabel(layer string) string {
	if layer == state.LayerPublic {
		return "Public (Funnel)"
	}
	return "Tailnet"
}

// TailscaleOptions says what to expose.
type TailscaleOptions struct {
	// Root is the config root (expose-state.json lives there).
	Root string
	// Layer is state.LayerTailnet or state.LayerPublic.
	Layer string
	// HubPort is the hub's loopback port.
	HubPort int
	// HubOrigin overrides the origin recorded (--hub-origin); "" means
	// https://<fqdn>.
	HubOrigin string
	Logf      Logf
}

// httpsPort is the port Tailscale Serve listens on.
const httpsPort = 443

// hubTarget is the one thing exposed: the whole hub, which routes
// internally and gates modules per request layer (reference §6.2 step 10).
func hubTarget(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) + "/" }

// Up serves the hub over Tailscale on o.Layer and records it. A prior
// Tailscale record is torn down first with its own layer's verb; a handler
// at "/" that is not ours is left alone and reported (ErrServeConflict).
func (t *Tailscale) Up(ctx context.Context, o TailscaleOptions) (*state.Record, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	v, err := t.Version(ctx)
	if err != nil {
		return nil, err
	}
	if !v.atLeast(minTailscale.Major, minTailscale.Minor) {
		return nil, fmt.Errorf("%w: found %s, need %s or newer (https://tailscale.com/download)", ErrTailscaleTooOld, v, minTailscale)
	}
	st, err := t.Status(ctx)
	if err != nil {
		return nil, err
	}
	if !st.LoggedIn() {
		return nil, fmt.Errorf("%w (state %s); run `tailscale up` and re-run", ErrNotLoggedIn, st.BackendState)
	}
	if o.Layer == state.LayerPublic && !st.FunnelCapable {
		return nil, fmt.Errorf("%w; add `\"nodeAttrs\": [{ \"target\": [\"*\"], \"attr\": [\"funnel\"] }]` at https://login.tailscale.com/admin/acls and re-run", ErrNoFunnel)
	}
	all, err := state.Load(o.Root)
	if err != nil {
		return nil, err
	}
	if prior := all.Providers[state.Tailscale]; prior != nil && len(prior.Entries) > 0 {
		logf("Found prior %s exposure; tearing down %d entries first…\n", LayerLabel(prior.Layer), len(prior.Entries))
		if err := t.teardown(ctx, v, prior, logf); err != nil {
			return nil, fmt.Errorf("teardown of prior state failed; aborting: %w", err)
		}
		delete(all.Providers, state.Tailscale)
		if err := state.Save(o.Root, all); err != nil {
			return nil, err
		}
	}
	target := hubTarget(o.HubPort)
	handlers, err := t.ServeHandlers(ctx, st.FQDN+":"+strconv.Itoa(httpsPort))
	if err != nil {
		return nil, err
	}
	if h, ok := handlers["/"]; ok && !sameTarget(h, target) {
		return nil, fmt.Errorf("%w: https://%s/ already proxies to %s; remove it with `tailscale serve --https=443 --set-path=/ off` if it is stale, then re-run", ErrServeConflict, st.FQDN, h)
	}
	origin := "https://" + st.FQDN
	logf("Exposing under %s (%s, path-routing, port %d):\n  / → %s\n", origin, LayerLabel(o.Layer), httpsPort, target)
	argv := t.UpArgv(v, o.Layer, httpsPort, "/", target)
	logf("  $ %s\n", strings.Join(argv, " "))
	if _, err := run(ctx, t.runner(), argv...); err != nil {
		return nil, fmt.Errorf("bringup failed: %w", err)
	}
	rec := &state.Record{
		Version: 1, Layer: o.Layer, Mode: "path", CanonicalFQDN: st.FQDN, Port: httpsPort,
		Funnel: o.Layer == state.LayerPublic, HubPort: o.HubPort,
		Entries:   []state.Entry{{Kind: "proxy", Mount: "/", Target: target, Service: "hub"}},
		HubOrigin: strings.TrimRight(o.HubOrigin, "/"),
	}
	all.Providers[state.Tailscale] = rec
	if err := state.Save(o.Root, all); err != nil {
		return nil, fmt.Errorf("tailscale now serves the hub but the state was not saved (run `parachute expose %s off` after fixing): %w", o.Layer, err)
	}
	return rec, nil
}

// Down removes the Tailscale exposure recorded for layer: exactly the
// handlers we added, and only while they still point at the hub. The
// operator's other serve config is never touched. The record is removed
// only when every teardown succeeded, so a failure can be retried.
func (t *Tailscale) Down(ctx context.Context, root, layer string, logf Logf) (*state.Record, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	all, err := state.Load(root)
	if err != nil {
		return nil, err
	}
	rec := all.Providers[state.Tailscale]
	if rec == nil || len(rec.Entries) == 0 {
		return nil, ErrNothingRecorded
	}
	if rec.Layer != layer {
		return nil, &OtherLayerError{Current: rec.Layer}
	}
	v, err := t.Version(ctx)
	if err != nil {
		return nil, err
	}
	logf("Tearing down %d %s serve entries…\n", len(rec.Entries), LayerLabel(rec.Layer))
	if err := t.teardown(ctx, v, rec, logf); err != nil {
		return nil, fmt.Errorf("teardown failed; state file left in place so you can retry: %w", err)
	}
	delete(all.Providers, state.Tailscale)
	if err := state.Save(root, all); err != nil {
		return nil, err
	}
	return rec, nil
}

// teardown removes rec's entries. An entry whose mount now serves
// something else (the operator re-pointed it) is left alone; one already
// gone is fine.
func (t *Tailscale) teardown(ctx context.Context, v TSVersion, rec *state.Record, logf Logf) error {
	handlers, err := t.ServeHandlers(ctx, rec.CanonicalFQDN+":"+strconv.Itoa(rec.Port))
	if err != nil {
		return err
	}
	for _, e := range rec.Entries {
		cur, ok := handlers[e.Mount]
		if !ok {
			logf("  (already gone — https://%s%s is not served)\n", rec.CanonicalFQDN, e.Mount)
			continue
		}
		if !sameTarget(cur, e.Target) {
			logf("  leaving https://%s%s alone: it now serves %s, not the hub\n", rec.CanonicalFQDN, e.Mount, cur)
			continue
		}
		argv := t.DownArgv(v, rec.Layer, rec.Port, e.Mount)
		logf("  $ %s\n", strings.Join(argv, " "))
		if _, err := run(ctx, t.runner(), argv...); err != nil {
			var ce *CommandError
			if errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Stderr), "does not exist") {
				logf("  (already gone — %s)\n", firstLine(ce.Stderr))
				continue
			}
			return err
		}
	}
	return nil
}
