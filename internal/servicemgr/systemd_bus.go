package servicemgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// DefaultSystemBusAddress is the system bus when $DBUS_SYSTEM_BUS_ADDRESS is unset.
const DefaultSystemBusAddress = "unix:path=/var/run/dbus/system_bus_socket"

// ErrNoUserBus means a non-root caller has no systemd user bus to talk to.
var ErrNoUserBus = errors.New("no systemd user bus")

// userBusAddress finds the user manager's bus: $XDG_RUNTIME_DIR/bus, else
// /run/user/<uid>/bus.
//
// Why not $DBUS_SESSION_BUS_ADDRESS or go-systemd's NewUserConnection: those
// fall back to autolaunching a private session bus (dbus-launch) that has no
// systemd user manager on it, after which every call hangs or fails with a
// puzzling error (coreos/go-systemd#148). The socket systemd's user instance
// serves is always <runtime dir>/bus, so dial exactly that, and when it is
// missing say why instead of guessing.
func userBusAddress(runtimeDir string, uid int) (string, error) {
	dir := runtimeDir
	if dir == "" {
		dir = filepath.Join("/run/user", strconv.Itoa(uid))
	}
	sock := filepath.Join(dir, "bus")
	if _, err := os.Stat(sock); err != nil {
		return "", fmt.Errorf("%w at %s (XDG_RUNTIME_DIR=%q): the user's systemd instance is not running "+
			"or not reachable from this session, which is common under su, sudo and cron — log in as the "+
			"user directly, enable lingering as root (`loginctl enable-linger <user>`), or install as root "+
			"for a system unit: %w", ErrNoUserBus, sock, runtimeDir, err)
	}
	return "unix:path=" + dbus.EscapeBusAddressValue(sock), nil
}

// dialBus opens an authenticated connection to the bus at addr, with Hello
// done, as go-systemd's NewConnection requires.
func dialBus(ctx context.Context, addr string) (*dbus.Conn, error) {
	conn, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("connecting to D-Bus at %s: %w", addr, err)
	}
	// EXTERNAL with the numeric uid: the daemon checks it against the
	// socket's peer credentials, and a numeric id needs no user database
	// lookup (which would not work in a static binary on some hosts).
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Geteuid()))}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("authenticating to D-Bus at %s: %w", addr, err)
	}
	if err := conn.Hello(); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("greeting D-Bus at %s: %w", addr, err)
	}
	return conn, nil
}

// connectSystemd opens go-systemd's client (two bus connections: calls and
// job signals) on the bus at addr. Close it when done.
func connectSystemd(ctx context.Context, addr string) (*sdbus.Conn, error) {
	return sdbus.NewConnection(func() (*dbus.Conn, error) { return dialBus(ctx, addr) })
}

// EnableLinger asks logind, over the system bus at systemBusAddress (empty:
// DefaultSystemBusAddress), to keep uid's user manager running without a
// login session, so user units start at boot. It first checks whether
// lingering is already on, so an unprivileged caller whose administrator
// enabled it gets no spurious error. Without privileges (root or a polkit
// rule) logind refuses with "Access denied" / "Interactive authentication
// required".
func EnableLinger(ctx context.Context, systemBusAddress string, uid int) error {
	if systemBusAddress == "" {
		systemBusAddress = DefaultSystemBusAddress
	}
	conn, err := dialBus(ctx, systemBusAddress)
	if err != nil {
		return err
	}
	defer conn.Close()
	const dest = "org.freedesktop.login1"
	mgr := conn.Object(dest, "/org/freedesktop/login1")
	if lingering(ctx, conn, mgr, uid) {
		return nil
	}
	// interactive=false: there is no agent to answer a polkit prompt.
	call := mgr.CallWithContext(ctx, "org.freedesktop.login1.Manager.SetUserLinger", 0, uint32(uid), true, false)
	if call.Err != nil {
		return fmt.Errorf("enabling lingering for uid %d (logind SetUserLinger): %w", uid, call.Err)
	}
	return nil
}

// lingering reports whether logind already lingers uid. GetUser fails for a
// user with neither a session nor lingering, which reads as false.
func lingering(ctx context.Context, conn *dbus.Conn, mgr dbus.BusObject, uid int) bool {
	var userPath dbus.ObjectPath
	if err := mgr.CallWithContext(ctx, "org.freedesktop.login1.Manager.GetUser", 0, uint32(uid)).Store(&userPath); err != nil {
		return false
	}
	var v dbus.Variant
	err := conn.Object("org.freedesktop.login1", userPath).
		CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.login1.User", "Linger").Store(&v)
	if err != nil {
		return false
	}
	b, _ := v.Value().(bool)
	return b
}

// dbusErrorName returns the D-Bus error name inside err, or "".
func dbusErrorName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dep *dbus.Error
	if errors.As(err, &dep) {
		return dep.Name
	}
	return ""
}
