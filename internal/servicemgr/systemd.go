package servicemgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// SystemdOptions configures a systemd Manager.
type SystemdOptions struct {
	// User selects the user manager (KindSystemdUser) instead of the system
	// manager.
	User bool
	// BusAddress overrides the D-Bus address of the manager's bus. Empty:
	// SystemBusAddress for the system manager, the user bus (see
	// RuntimeDir) for the user manager. Tests point it at a box's bus.
	BusAddress string
	// SystemBusAddress is the system bus (for the system manager and for
	// logind's lingering call). Empty: DefaultSystemBusAddress.
	SystemBusAddress string
	// UID owns the user manager and is the uid lingering is enabled for.
	UID int
	// RuntimeDir is $XDG_RUNTIME_DIR; the user bus is RuntimeDir/bus, else
	// /run/user/<UID>/bus.
	RuntimeDir string
	// Runner runs journalctl. Nil: ExecRunner.
	Runner Runner
	// JournalLines is how many log lines a failed start attaches to its
	// JobError. Zero: 20.
	JournalLines int
	// OutputWait bounds how long a failure's journal tail waits for the
	// failed process's own output to arrive in the journal. Zero:
	// DefaultOutputWait; negative: do not wait (read the journal as it is).
	OutputWait time.Duration
}

// Systemd drives systemd through its D-Bus API (go-systemd), never by
// parsing systemctl output. Each operation opens its own connection and
// closes it, so a Systemd value holds no resources.
type Systemd struct {
	opts SystemdOptions
}

var _ Manager = (*Systemd)(nil)

// NewSystemd returns a systemd Manager.
func NewSystemd(opts SystemdOptions) *Systemd {
	if opts.SystemBusAddress == "" {
		opts.SystemBusAddress = DefaultSystemBusAddress
	}
	if opts.Runner == nil {
		opts.Runner = ExecRunner
	}
	if opts.JournalLines == 0 {
		opts.JournalLines = 20
	}
	return &Systemd{opts: opts}
}

// Kind implements Manager.
func (m *Systemd) Kind() Kind {
	if m.opts.User {
		return KindSystemdUser
	}
	return KindSystemdSystem
}

func (m *Systemd) scope() string {
	if m.opts.User {
		return "user"
	}
	return "system"
}

func (m *Systemd) connect(ctx context.Context) (*sdbus.Conn, error) {
	addr := m.opts.BusAddress
	if addr == "" && m.opts.User {
		a, err := userBusAddress(m.opts.RuntimeDir, m.opts.UID)
		if err != nil {
			return nil, err
		}
		addr = a
	}
	if addr == "" {
		addr = m.opts.SystemBusAddress
	}
	c, err := connectSystemd(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd %s manager: %w", m.scope(), err)
	}
	return c, nil
}

// Install implements Manager: write the unit, enable it (EnableUnitFiles),
// reload the manager, check that the unit loaded cleanly, and with start
// start it and wait for the job. A user unit also gets lingering, so it
// starts at boot without a login; a failed linger is a message, not an
// error. A unit that is already running keeps running: call Restart to
// apply changed content. A failed start leaves the unit installed, so the
// operator can read its state and logs.
func (m *Systemd) Install(ctx context.Context, u Unit, start bool) ([]string, error) {
	if err := makeDirs(u.Dirs); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(u.Path, u.Content, 0o644); err != nil {
		return nil, fmt.Errorf("writing unit %s: %w", u.Name, err)
	}
	var msgs []string
	if m.opts.User {
		if err := EnableLinger(ctx, m.opts.SystemBusAddress, m.opts.UID); err != nil {
			msgs = append(msgs, lingerNote(m.opts.UID, err))
		}
	}
	c, err := m.connect(ctx)
	if err != nil {
		return msgs, err
	}
	defer c.Close()
	hasInstall, _, err := c.EnableUnitFilesContext(ctx, []string{u.Name}, false, true)
	if err != nil {
		return msgs, fmt.Errorf("enabling %s: %w", u.Name, err)
	}
	// Reload after enabling, as `systemctl enable` does, so the manager
	// reads the new content and the new wants/ symlink.
	if err := c.ReloadContext(ctx); err != nil {
		return msgs, fmt.Errorf("reloading the systemd %s manager: %w", m.scope(), err)
	}
	props, err := c.GetUnitPropertiesContext(ctx, u.Name)
	if err != nil {
		return msgs, fmt.Errorf("reading %s after reload: %w", u.Name, err)
	}
	if ls := str(props["LoadState"]); ls != "loaded" {
		return msgs, fmt.Errorf("systemd did not load %s (%s): %s", u.Name, ls, loadError(props))
	}
	if !hasInstall {
		msgs = append(msgs, fmt.Sprintf("Note: %s has no [Install] section, so it will not start on boot.", u.Name))
	}
	if start {
		if err := m.job(ctx, c, "start", u.Name); err != nil {
			return msgs, err
		}
		return append(msgs, fmt.Sprintf("Installed systemd %s unit %s — it now runs and starts on boot.", m.scope(), u.Name)), nil
	}
	return append(msgs, fmt.Sprintf("Installed systemd %s unit %s — it starts on boot.", m.scope(), u.Name)), nil
}

// lingerNote words a failed EnableLinger for the operator.
func lingerNote(uid int, err error) string {
	who := strconv.Itoa(uid)
	if u, lerr := user.LookupId(who); lerr == nil {
		who = u.Username
	}
	return fmt.Sprintf("Note: could not enable lingering (%v) — the unit runs while you are logged in "+
		"but may not start on a cold boot before login. Run `sudo loginctl enable-linger %s`, or install "+
		"as root (a system unit needs no lingering).", err, who)
}

// Uninstall implements Manager: stop the unit if it runs, disable it,
// remove the file, reload, and clear a remembered failure. It is idempotent.
func (m *Systemd) Uninstall(ctx context.Context, name, path string) (bool, error) {
	c, err := m.connect(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	props, err := c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", name, err)
	}
	switch str(props["ActiveState"]) {
	case "inactive", "failed", "":
	default:
		if err := m.job(ctx, c, "stop", name); err != nil && !errors.Is(err, ErrNotInstalled) {
			return false, err
		}
	}
	exists := fileExists(path)
	if _, err := c.DisableUnitFilesContext(ctx, []string{name}, false); err != nil && exists {
		return false, fmt.Errorf("disabling %s: %w", name, err)
	}
	removed := false
	if exists {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("removing %s: %w", path, err)
		}
		removed = true
	}
	if err := c.ReloadContext(ctx); err != nil {
		return removed, fmt.Errorf("reloading the systemd %s manager: %w", m.scope(), err)
	}
	// A unit that failed stays listed (not-found, failed) until its failure
	// is reset; it is gone, so forget it. Errors only mean "nothing to reset".
	_ = c.ResetFailedUnitContext(ctx, name)
	return removed, nil
}

// Start implements Manager.
func (m *Systemd) Start(ctx context.Context, name string) error { return m.withJob(ctx, "start", name) }

// Stop implements Manager.
func (m *Systemd) Stop(ctx context.Context, name string) error { return m.withJob(ctx, "stop", name) }

// Restart implements Manager.
func (m *Systemd) Restart(ctx context.Context, name string) error {
	return m.withJob(ctx, "restart", name)
}

func (m *Systemd) withJob(ctx context.Context, op, name string) error {
	c, err := m.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return m.job(ctx, c, op, name)
}

// job runs one start/stop/restart job and waits for its result.
func (m *Systemd) job(ctx context.Context, c *sdbus.Conn, op, name string) error {
	if op != "stop" {
		// An explicit start is the operator overriding the crash-loop
		// ceiling: systemd refuses to start a unit that hit its start limit
		// until its failure is reset, which few people know to do. Errors
		// mean there was nothing to reset.
		if props, err := c.GetUnitPropertiesContext(ctx, name); err == nil && str(props["ActiveState"]) == "failed" {
			_ = c.ResetFailedUnitContext(ctx, name)
		}
	}
	call := map[string]func(context.Context, string, string, chan<- string) (int, error){
		"start":   c.StartUnitContext,
		"stop":    c.StopUnitContext,
		"restart": c.RestartUnitContext,
	}[op]
	// Buffered, and never left unread: go-systemd sends the job result while
	// holding its listener lock, so an unread unbuffered channel would
	// wedge the connection (coreos/go-systemd#429).
	ch := make(chan string, 1)
	if _, err := call(ctx, name, "replace", ch); err != nil {
		if dbusErrorName(err) == "org.freedesktop.systemd1.NoSuchUnit" {
			return fmt.Errorf("%s %s: %w", op, name, ErrNotInstalled)
		}
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	var result string
	select {
	case result = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the %s job of %s: %w", op, name, ctx.Err())
	}
	if result == "done" || result == "skipped" {
		if op == "stop" {
			return nil
		}
		// With Type=simple a start job is "done" once the process is forked;
		// a process that died at once shows up as a failed unit. Report it.
		props, err := c.GetUnitPropertiesContext(ctx, name)
		if err != nil || str(props["ActiveState"]) != "failed" {
			return nil
		}
		result = "failed"
	}
	je := &JobError{Op: op, Unit: name, Result: result}
	if v, err := c.GetServicePropertyContext(ctx, name, "Result"); err == nil {
		je.UnitResult, _ = v.Value.Value().(string)
	}
	if op != "stop" {
		je.JournalTail = m.failureTail(ctx, c, name)
	}
	return je
}
