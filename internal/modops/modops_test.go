package modops

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/supervisor"
)

// newManager is a Manager over a temp root with a real supervisor and the
// given services.json rows.
func newManager(t *testing.T, rows ...map[string]any) (*Manager, config.Paths) {
	t.Helper()
	p := config.Paths{Root: t.TempDir()}
	if rows != nil {
		b, _ := json.Marshal(map[string]any{"services": rows})
		if err := os.WriteFile(p.ServicesJSON(), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sup := supervisor.New(supervisor.Options{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sup.Shutdown(ctx)
	})
	return New(Options{Paths: p, Supervisor: sup, Issuer: "http://127.0.0.1:1939"}), p
}

// TestStartModuleErrors: the row and spec failures StartModule reports are
// the sentinels the API maps to its codes, with the operator's sentence.
func TestStartModuleErrors(t *testing.T) {
	noCmdDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(noCmdDir, ".parachute"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noCmdDir, ".parachute", "module.json"), []byte(`{"name":"nocmd","port":1990}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := newManager(t,
		map[string]any{"name": "echo", "port": 1980, "paths": []string{"/echo"}, "health": "/echo/health", "version": "1.0.0"},
		map[string]any{"name": "spy", "port": 1981, "paths": []string{"/echo/spy"}, "health": "/echo/spy/health", "version": "1.0.0"},
		map[string]any{"name": "nocmd", "port": 1990, "paths": []string{"/nocmd"}, "health": "/nocmd/health", "version": "1.0.0", "installDir": noCmdDir},
	)
	cases := []struct {
		short string
		want  []error
		text  string
	}{
		{"absent", []error{ErrNotInstalled}, "run `parachute install absent` first"},
		{"spy", []error{ErrMountRefused}, "spy is installed but"},
		{"nocmd", []error{ErrInvalidModule, ErrNoStartCmd}, "has no startCmd"},
		{"echo", []error{ErrInvalidModule, ErrNoStartCmd}, "services.json row has no installDir"},
	}
	for _, c := range cases {
		t.Run(c.short, func(t *testing.T) {
			_, _, err := m.StartModule(context.Background(), c.short, false)
			for _, w := range c.want {
				if !errors.Is(err, w) {
					t.Errorf("StartModule(%s) = %v, want errors.Is %v", c.short, err, w)
				}
			}
			if err == nil || !strings.Contains(err.Error(), c.text) {
				t.Errorf("StartModule(%s) = %v, want it to say %q", c.short, err, c.text)
			}
		})
	}
}

// TestShutdownCancelsAndWaits: Shutdown cancels a running operation's
// context, returns only once it has returned, and refuses new ones.
func TestShutdownCancelsAndWaits(t *testing.T) {
	m, _ := newManager(t)
	ctx, done, err := m.track(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	go func() {
		// Deferred in this order so returned is closed before done()
		// releases Shutdown (defers run last-in first-out); the other
		// order let Shutdown return in the gap and the check flaked.
		defer done()
		defer close(returned)
		<-ctx.Done() // the operation's work, ended only by cancellation
	}()
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Shutdown returned before the operation did")
	}
	if _, err := m.Install("vault", api.InstallBody{}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("Install after Shutdown = %v, want ErrShuttingDown", err)
	}
	if n := m.OperationCount(); n != 0 {
		t.Fatalf("%d operation(s) registered after Shutdown, want none", n)
	}
}

// TestShutdownGivesUpAtItsDeadline: an operation that ignores
// cancellation cannot hold Shutdown past ctx.
func TestShutdownGivesUpAtItsDeadline(t *testing.T) {
	m, _ := newManager(t)
	_, done, err := m.track(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want the context's error", err)
	}
}
