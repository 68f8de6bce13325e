package servicemgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// LaunchdOptions configures a launchd Manager.
type LaunchdOptions struct {
	// System selects the system domain and /Library/LaunchDaemons (root)
	// instead of gui/<UID> and ~/Library/LaunchAgents.
	System bool
	// UID names the gui/<UID> domain.
	UID int
	// Home holds ~/Library/LaunchAgents.
	Home string
	// Runner runs launchctl (and ps). Nil: ExecRunner.
	Runner Runner
	// DrainTimeout bounds the wait for a booted-out job to leave the domain.
	// Zero: 10 s.
	DrainTimeout time.Duration
	// PollInterval spaces the checks while draining. Zero: 100 ms.
	PollInterval time.Duration
}

// Launchd drives launchd with `launchctl bootstrap|bootout|enable|kickstart|print`
// in one domain. The plist of a label is expected at UnitPath(kind, home,
// label): Start bootstraps it from there when the job is not loaded.
//
// Stop is `bootout`, which unloads the job: that is the only way to keep a
// KeepAlive job down, and it lasts until the next login or boot, when
// launchd loads the plist again. That is launchd's model, not a bug here.
type Launchd struct {
	opts LaunchdOptions
}

var _ Manager = (*Launchd)(nil)

// NewLaunchd returns a launchd Manager.
func NewLaunchd(opts LaunchdOptions) *Launchd {
	if opts.Runner == nil {
		opts.Runner = ExecRunner
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	return &Launchd{opts: opts}
}

// Kind implements Manager.
func (m *Launchd) Kind() Kind {
	if m.opts.System {
		return KindLaunchdSystem
	}
	return KindLaunchd
}

func (m *Launchd) domain() string {
	if m.opts.System {
		return "system"
	}
	return "gui/" + strconv.Itoa(m.opts.UID)
}

func (m *Launchd) target(label string) string { return m.domain() + "/" + label }

func (m *Launchd) plistPath(label string) string { return UnitPath(m.Kind(), m.opts.Home, label) }

func (m *Launchd) what() string {
	if m.opts.System {
		return "LaunchDaemon"
	}
	return "LaunchAgent"
}

// lcResult is one launchctl run.
type lcResult struct {
	args           []string
	stdout, stderr string
	code           int
}

// text is what launchctl said, stderr first, on one line.
func (r lcResult) text() string {
	if s := firstLine(r.stderr); s != "" {
		return s
	}
	if s := firstLine(r.stdout); s != "" {
		return s
	}
	return "exit status " + strconv.Itoa(r.code)
}

// notLoaded reports launchctl's "no such job" answers: 113 "Could not find
// service" (print, bootout on current macOS), 3 "No such process" (bootout
// on older ones).
func (r lcResult) notLoaded() bool {
	out := r.stderr + r.stdout
	return r.code == 113 || r.code == 3 ||
		strings.Contains(out, "Could not find service") || strings.Contains(out, "No such process")
}

func (m *Launchd) launchctl(ctx context.Context, args ...string) (lcResult, error) {
	stdout, stderr, code, err := m.opts.Runner(ctx, "launchctl", args...)
	r := lcResult{args: args, stdout: stdout, stderr: stderr, code: code}
	if err != nil {
		return r, fmt.Errorf("running launchctl %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// print runs `launchctl print <target>`; loaded is false when the job is
// not in the domain.
func (m *Launchd) print(ctx context.Context, label string) (out string, loaded bool, err error) {
	r, err := m.launchctl(ctx, "print", m.target(label))
	if err != nil {
		return "", false, err
	}
	switch {
	case r.code == 0:
		return r.stdout, true, nil
	case r.notLoaded():
		return "", false, nil
	}
	return "", false, fmt.Errorf("launchctl print %s: %s", m.target(label), r.text())
}

// bootout unloads the job and waits until launchd has let go of it (bootout
// can return before the job has drained, and a bootstrap then fails with
// error 5). A job that is not loaded is fine.
func (m *Launchd) bootout(ctx context.Context, label string) error {
	r, err := m.launchctl(ctx, "bootout", m.target(label))
	if err != nil {
		return err
	}
	// 36 is EINPROGRESS: the job is still shutting down.
	if r.code != 0 && r.code != 36 {
		if r.notLoaded() {
			return nil
		}
		return fmt.Errorf("launchctl bootout %s: %s", m.target(label), r.text())
	}
	return m.waitUnloaded(ctx, label)
}

func (m *Launchd) waitUnloaded(ctx context.Context, label string) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(m.opts.PollInterval)
	defer tick.Stop()
	for {
		_, loaded, err := m.print(ctx, label)
		if err == nil && !loaded {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to unload: %w", m.target(label), ctx.Err())
		case <-tick.C:
		}
	}
}

// bootstrap loads the plist at path into the domain; RunAtLoad starts it.
//
// "Bootstrap failed: 5: Input/output error" means the label is still loaded
// or still draining from a bootout (or, rarely, the plist is refused). The
// cure that works is bootout, wait, and one more bootstrap; when that fails
// too, the error carries launchctl's words and `launchctl print` output.
func (m *Launchd) bootstrap(ctx context.Context, op, label, path string) error {
	r, err := m.launchctl(ctx, "bootstrap", m.domain(), path)
	if err != nil {
		return err
	}
	if r.code == 5 || r.code == 37 || strings.Contains(r.stderr, "Bootstrap failed: 5") {
		_ = m.bootout(ctx, label)
		if r, err = m.launchctl(ctx, "bootstrap", m.domain(), path); err != nil {
			return err
		}
	}
	if r.code == 0 {
		return nil
	}
	je := &JobError{Op: op, Unit: label, Result: "failed", Detail: "launchctl bootstrap: " + r.text()}
	if r.code == 125 || strings.Contains(r.stderr, "Domain does not support") {
		je.Detail += " — the " + m.domain() + " domain exists only for a user logged in at the console " +
			"(not over plain SSH); log in graphically, or install as root for a LaunchDaemon"
	}
	if pr, err := m.launchctl(ctx, "print", m.target(label)); err == nil {
		je.JournalTail = lastLines(strings.TrimSpace(pr.stdout+"\n"+pr.stderr), 0)
	}
	return je
}

// Install implements Manager: write the plist (and Unit.Dirs), then with
// start bootout any loaded copy, enable the label (a disabled label refuses
// bootstrap) and bootstrap it. There is deliberately no `kickstart -k`
// after bootstrap: RunAtLoad already started the job, and killing it while
// it boots its children orphans them. Without start the label is only
// enabled, so launchd loads it at the next login or boot.
func (m *Launchd) Install(ctx context.Context, u Unit, start bool) ([]string, error) {
	if err := makeDirs(u.Dirs); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(u.Path, u.Content, 0o644); err != nil {
		return nil, fmt.Errorf("writing plist %s: %w", u.Name, err)
	}
	if start {
		// A loaded job keeps the plist it was loaded with; unload it so
		// the new content applies. Errors resurface as bootstrap's error 5.
		_ = m.bootout(ctx, u.Name)
	}
	r, err := m.launchctl(ctx, "enable", m.target(u.Name))
	if err != nil {
		return nil, err
	}
	if r.code != 0 {
		return nil, fmt.Errorf("launchctl enable %s: %s", m.target(u.Name), r.text())
	}
	if !start {
		return []string{fmt.Sprintf("Installed launchd %s %s — it starts on login/boot.", m.what(), u.Name)}, nil
	}
	if err := m.bootstrap(ctx, "start", u.Name, u.Path); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("Installed launchd %s %s — it now runs and starts on login/boot.", m.what(), u.Name)}, nil
}

// Uninstall implements Manager: bootout, then remove the plist.
func (m *Launchd) Uninstall(ctx context.Context, name, path string) (bool, error) {
	if err := m.bootout(ctx, name); err != nil {
		return false, err
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("removing %s: %w", path, err)
	}
	return true, nil
}

// Start implements Manager: a loaded job is kickstarted (a no-op when it
// runs); a job that is not loaded, e.g. after Stop, is bootstrapped.
func (m *Launchd) Start(ctx context.Context, name string) error {
	return m.startOrRestart(ctx, "start", name, "kickstart", m.target(name))
}

// Restart implements Manager: `kickstart -k` kills and restarts a loaded
// job; a job that is not loaded is bootstrapped.
func (m *Launchd) Restart(ctx context.Context, name string) error {
	return m.startOrRestart(ctx, "restart", name, "kickstart", "-k", m.target(name))
}

func (m *Launchd) startOrRestart(ctx context.Context, op, name string, args ...string) error {
	_, loaded, err := m.print(ctx, name)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if !loaded {
		path := m.plistPath(name)
		if !fileExists(path) {
			return fmt.Errorf("%s %s: %w (no plist at %s)", op, name, ErrNotInstalled, path)
		}
		return m.bootstrap(ctx, op, name, path)
	}
	r, err := m.launchctl(ctx, args...)
	if err != nil {
		return err
	}
	if r.code != 0 {
		return &JobError{Op: op, Unit: name, Result: "failed", Detail: "launchctl " + args[0] + ": " + r.text()}
	}
	return nil
}

// Stop implements Manager with bootout (see the Launchd doc for why).
func (m *Launchd) Stop(ctx context.Context, name string) error {
	if err := m.bootout(ctx, name); err != nil {
		return &JobError{Op: "stop", Unit: name, Result: "failed", Detail: err.Error()}
	}
	return nil
}
