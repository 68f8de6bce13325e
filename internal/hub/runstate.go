package hub

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/secfile"
	"github.com/openparachute/parachute/internal/supervisor"
)

// statusLine summarises module states for systemd's STATUS=.
func (s *Server) statusLine() string {
	counts := map[supervisor.Status]int{}
	list := s.sup.List()
	for _, st := range list {
		counts[st.Status]++
	}
	return fmt.Sprintf("%d module(s): %d running, %d crashed, %d stopped", len(list),
		counts[supervisor.StatusRunning], counts[supervisor.StatusCrashed], counts[supervisor.StatusStopped])
}

// startWatchdog pings systemd's watchdog at half its interval while the
// process runs. It returns a stop function.
func startWatchdog(ctx context.Context, log *slog.Logger) func() {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}()
	log.Debug("systemd watchdog enabled", "interval", interval)
	return cancel
}

// writeRunFiles records the bound port so the CLI finds the hub. It writes
// no hub.pid: that file is the legacy detached hub's, and migrate treats a
// live pid in it as a process to stop. The port file is run-time state that
// a crash makes stale anyway, so it is renamed into place (never torn) but
// not fsynced: start-up does not wait for the disk.
func writeRunFiles(p config.Paths, port int) error {
	// In a root shared with a group (the system package's 0750), the
	// group's operators must read the port too.
	mode := os.FileMode(0o700)
	if groupShared(p.Root) {
		mode = 0o750
	}
	if err := os.MkdirAll(p.HubRunDir(), mode); err != nil {
		return err
	}
	tmp := p.HubPortFile() + ".tmp-" + strconv.Itoa(os.Getpid())
	// Why remove, then O_EXCL through secfile: the temp name is
	// predictable, and writing it by path would follow a link planted
	// there and truncate its target. Removing unlinks a leftover (or a
	// link), never what a link points at.
	_ = os.Remove(tmp)
	f, err := secfile.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(port) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p.HubPortFile()); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// removeRunFiles removes the port file if it still names this hub's port (a
// newer hub may have replaced it).
func removeRunFiles(p config.Paths, port int) {
	if b, err := os.ReadFile(p.HubPortFile()); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(port) {
		os.Remove(p.HubPortFile())
	}
}

// shareTokenWithGroup makes operator.token readable by the config root's
// group when the root is deliberately shared with a group and nobody else
// (mode 0750 or 0770: the system package makes /var/lib/parachute 0750
// parachute:parachute), so operators in that group use the CLI without
// sudo. Any other root (0700, or a loose 0755) keeps the token 0600. A
// token that is a link or not this user's file is refused and left as it is
// (see auth.ShareTokenWithGroup); the error says so.
func shareTokenWithGroup(p config.Paths) error {
	_, err := auth.ShareTokenWithGroup(p.OperatorToken(), p.Root)
	return err
}

// openAuth builds the token store on db (the hub's one hub.db pool, which
// the caller keeps owning), makes sure the signing key and the operator
// token exist, and shares the token with the root's group when the root is
// shared.
func openAuth(ctx context.Context, db *sql.DB, p config.Paths, origins Origins, log *slog.Logger) (*auth.Store, error) {
	store := auth.NewStore(db, p.HubDB())
	if _, err := store.EnsureSigningKey(ctx); err != nil {
		return nil, fmt.Errorf("ensuring the hub signing key in %s: %w", p.HubDB(), err)
	}
	if created, err := store.EnsureOperatorToken(ctx, p.OperatorToken(), origins.StableIssuer()); err != nil {
		log.Warn("could not write the operator token", "path", p.OperatorToken(), "err", err)
	} else if created {
		log.Info("minted the operator token", "path", p.OperatorToken())
	}
	if err := shareTokenWithGroup(p); err != nil {
		log.Error("operator token not shared with the config root's group", "err", err)
	} else if err := secfile.Check(p.OperatorToken()); err != nil {
		// Not fatal to the hub, but no CLI verb will read such a token.
		log.Error("operator token unusable", "err", err)
	}
	return store, nil
}

// groupShared reports whether dir is shared with its group and nobody else
// (mode 0750 or 0770).
func groupShared(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.Mode().Perm()&0o050 == 0o050 && fi.Mode().Perm()&0o007 == 0
}
