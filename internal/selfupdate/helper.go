package selfupdate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/openparachute/parachute/internal/servicemgr"
)

// HelperUnitName is the transient systemd unit that runs an upgrade
// started from the hub API.
func HelperUnitName(opID string) string {
	if len(opID) > 12 {
		opID = opID[:12]
	}
	return "parachute-hub-upgrade-" + opID + ".service"
}

// SpawnHelper starts argv (the CLI's `upgrade hub ...`) outside the hub's
// own unit, so it survives the restart it asks for. Under systemd the hub
// unit's KillMode=mixed would SIGKILL anything left in its cgroup, so the
// helper runs as a transient unit of the same manager (StartTransientUnit
// over D-Bus, like `systemd-run`). Elsewhere it is a detached process in
// its own session, which launchd does not kill with the hub's job.
func SpawnHelper(ctx context.Context, kind servicemgr.Kind, unitName string, argv, env []string) error {
	switch kind {
	case servicemgr.KindSystemdSystem, servicemgr.KindSystemdUser:
		return spawnTransient(ctx, kind == servicemgr.KindSystemdUser, unitName, argv, env)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the upgrade helper: %w", err)
	}
	// Reap it in the background; its outcome is in the status file.
	go func() { _ = cmd.Wait() }()
	return nil
}

func spawnTransient(ctx context.Context, user bool, name string, argv, env []string) error {
	addr := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
	if addr == "" {
		addr = servicemgr.DefaultSystemBusAddress
	}
	if user {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			dir = filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
		}
		addr = "unix:path=" + dbus.EscapeBusAddressValue(filepath.Join(dir, "bus"))
	}
	conn, err := sdbus.NewConnection(func() (*dbus.Conn, error) {
		c, err := dbus.Dial(addr, dbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		// EXTERNAL with the numeric uid, as servicemgr does: no user
		// database lookup in a static binary.
		if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Geteuid()))}); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return fmt.Errorf("connecting to systemd at %s: %w", addr, err)
	}
	defer conn.Close()
	props := []sdbus.Property{
		sdbus.PropDescription("Parachute hub upgrade"),
		sdbus.PropExecStart(argv, true),
		{Name: "Environment", Value: dbus.MakeVariant(env)},
		// Forget the unit once it ends, like `systemd-run --collect`.
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
	}
	ch := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, name, "fail", props, ch); err != nil {
		return fmt.Errorf("starting the transient unit %s: %w", name, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("starting the transient unit %s: job %s", name, res)
		}
	case <-ctx.Done():
		return fmt.Errorf("starting the transient unit %s: %w", name, ctx.Err())
	}
	return nil
}
