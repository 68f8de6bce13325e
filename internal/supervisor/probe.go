package supervisor

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// probeEvent is a readiness result for the current run: ready, or the
// readiness window passed without it (probing then continues, slower).
type probeEvent struct{ ready bool }

// Probe pacing: inside the readiness window the interval grows from
// probeFirst to probeWindowMax; after it, up to probeSlowMax.
const (
	probeFirst     = 50 * time.Millisecond
	probeWindowMax = 200 * time.Millisecond
	probeSlowMax   = 5 * time.Second
	probeTimeout   = 2 * time.Second
)

// probeHosts are tried in order: modules usually bind 127.0.0.1 (or all
// addresses), but a server told to listen on "localhost" may get only ::1.
var probeHosts = []string{"127.0.0.1", "::1"}

func (r *run) startProbe(client *http.Client, sp Spec) {
	ctx, cancel := context.WithCancel(context.Background())
	r.probe = make(chan probeEvent, 2) // at most two events: window passed, then ready
	r.probeCancel = cancel
	r.probeDone = make(chan struct{})
	go func() {
		defer close(r.probeDone)
		probeLoop(ctx, client, sp, r.probe)
	}()
}

// stopProbe cancels the prober and waits for it to return.
func (r *run) stopProbe() {
	if r.probeCancel == nil {
		return
	}
	r.probeCancel()
	<-r.probeDone
}

func probeLoop(ctx context.Context, client *http.Client, sp Spec, events chan<- probeEvent) {
	deadline := time.Now().Add(sp.Policy.ReadyTimeout)
	inWindow := true
	interval := probeFirst
	for {
		if probeOnce(ctx, client, sp) {
			events <- probeEvent{ready: true}
			return
		}
		if inWindow && !time.Now().Before(deadline) {
			events <- probeEvent{ready: false}
			inWindow = false
		}
		wait := interval
		if inWindow {
			wait = min(wait, time.Until(deadline)) // probe once more right at the deadline
			interval = min(interval*2, probeWindowMax)
		} else {
			interval = min(interval*2, probeSlowMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// probeOnce reports whether the module accepts a TCP connection on its port
// or, with a HealthPath, answers it with a status below 500.
func probeOnce(ctx context.Context, client *http.Client, sp Spec) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	for _, h := range probeHosts {
		addr := net.JoinHostPort(h, strconv.Itoa(sp.Port))
		if sp.HealthPath == "" {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				return true
			}
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+sp.HealthPath, nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return resp.StatusCode < 500
	}
	return false
}
