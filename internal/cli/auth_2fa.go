package cli

import (
	"errors"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/twofactor"
)

// enrolRand is the randomness for new TOTP secrets (crypto/rand when nil);
// tests fix it to know the secret the command prints.
var enrolRand io.Reader

const twoFAUsage = "parachute auth 2fa [status|enroll|disenroll] [--username <name>]"

// auth2FACommand is `parachute auth 2fa`: the hub-login TOTP of a user,
// straight on hub.db like the other account verbs (the hub need not run).
func auth2FACommand(e *env) *cli.Command {
	user := func() cli.Flag {
		return &cli.StringFlag{Name: "username", Usage: "the user (default: the first admin)"}
	}
	return &cli.Command{
		Name:      "2fa",
		Usage:     "show, enrol or remove two-factor sign-in (TOTP) for a hub user",
		UsageText: twoFAUsage,
		// --username lives on the group only: urfave/cli parses a group's
		// flags anywhere on its line, and a sub-command's own (empty)
		// copy would shadow the value.
		Flags: []cli.Flag{user()},
		// No sub-command means status, as in the reference.
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				return twoFAStatus(c, e)
			}
			return groupAction(c)
		},
		Subcommands: []*cli.Command{
			// UsageText names --username: it is the group's flag, so the
			// sub-command's own OPTIONS list does not show it.
			{Name: "status", Usage: "show whether 2FA is on and how many backup codes are left",
				UsageText: "parachute auth 2fa status [--username <name>] (default: the first admin)",
				Action:    func(c *cli.Context) error { return twoFAStatus(c, e) }},
			{Name: "enroll", Usage: "turn 2FA on: prints the secret, asks for a code, prints 10 backup codes once",
				UsageText: "parachute auth 2fa enroll [--username <name>] (default: the first admin; run it on a terminal)",
				Action:    func(c *cli.Context) error { return twoFAEnroll(c, e) }},
			{Name: "disenroll", Usage: "turn 2FA off (the secret and backup codes are deleted)",
				UsageText: "parachute auth 2fa disenroll [--username <name>] (default: the first admin)",
				Action:    func(c *cli.Context) error { return twoFADisenroll(c, e) }},
		},
	}
}

// twoFAUser opens hub.db and finds --username (default: the first admin).
func twoFAUser(c *cli.Context, verb string) (*accounts.Store, *accounts.User, func(), error) {
	if c.Args().Len() > 0 {
		return nil, nil, nil, fail(ExitUsage, "parachute auth 2fa %s: unexpected argument %q\nUsage: %s", verb, c.Args().First(), twoFAUsage)
	}
	store, done, _, err := openAccounts(c, "2fa "+verb)
	if err != nil {
		return nil, nil, nil, err
	}
	failf := func(format string, args ...any) error {
		done()
		return fail(ExitFail, "parachute auth 2fa "+verb+": "+format, args...)
	}
	name := c.String("username")
	var u *accounts.User
	if name == "" {
		id, err := store.FirstAdminID(c.Context)
		if errors.Is(err, accounts.ErrUserNotFound) || (err == nil && id == "") {
			return nil, nil, nil, failf("no hub user yet; create one with `parachute auth set-password`")
		}
		if err != nil {
			return nil, nil, nil, failf("%v", err)
		}
		u, err = store.ByID(c.Context, id)
		if err != nil {
			return nil, nil, nil, failf("%v", err)
		}
	} else {
		u, err = store.ByName(c.Context, name)
		if errors.Is(err, accounts.ErrUserNotFound) {
			return nil, nil, nil, failf("no user named %q; see `parachute auth list-users`", name)
		}
		if err != nil {
			return nil, nil, nil, failf("%v", err)
		}
	}
	return store, u, done, nil
}

func twoFAStatus(c *cli.Context, e *env) error {
	store, u, done, err := twoFAUser(c, "status")
	if err != nil {
		return err
	}
	defer done()
	if !u.TOTPEnrolled {
		e.printf("2FA for %q: off. Turn it on with `parachute auth 2fa enroll` or at /account/2fa.\n", u.Username)
		return nil
	}
	_, stored, err := store.TOTP(c.Context, u.ID)
	if err != nil {
		return fail(ExitFail, "parachute auth 2fa status: %v", err)
	}
	n, err := twofactor.CountBackupCodes(stored)
	if err != nil {
		return fail(ExitFail, "parachute auth 2fa status: %v", err)
	}
	e.printf("2FA for %q: on (%d backup codes left).\n", u.Username, n)
	return nil
}

func twoFAEnroll(c *cli.Context, e *env) error {
	store, u, done, err := twoFAUser(c, "enroll")
	if err != nil {
		return err
	}
	defer done()
	failf := func(format string, args ...any) error {
		return fail(ExitFail, "parachute auth 2fa enroll: "+format, args...)
	}
	if u.TOTPEnrolled {
		return failf("2FA is already on for %q; run `parachute auth 2fa disenroll` first to enrol a new device", u.Username)
	}
	key, err := twofactor.NewKey(u.Username, enrolRand)
	if err != nil {
		return failf("%v", err)
	}
	e.printf("Add this account to your authenticator app for %q:\n  %s\nOr enter the key by hand:\n  %s\n", u.Username, key.URL, key.Secret)
	line, err := readLine(e, "Code from the app: ")
	if err != nil {
		return failf("%v", err)
	}
	if strings.TrimSpace(line) == "" {
		// Off a terminal (stdin at its end) nothing was typed: saying the
		// code does not match would send the operator to check the clock.
		return failf("no code was entered; run `parachute auth 2fa enroll` on a terminal and type the 6-digit code the app shows")
	}
	ok, err := twofactor.NewVerifier(nil).Verify(key.Secret, strings.TrimSpace(line))
	if err != nil {
		return failf("%v", err)
	}
	if !ok {
		return failf("that code does not match; check the phone's clock and run the command again")
	}
	codes, stored, err := twofactor.GenerateBackupCodes(nil, accounts.HashBackupCode)
	if err != nil {
		return failf("%v", err)
	}
	if err := store.EnableTOTP(c.Context, u.ID, key.Secret, stored); err != nil {
		return failf("%v", err)
	}
	e.printf("2FA is on for %q. Backup codes (each works once; they are not shown again):\n", u.Username)
	for _, code := range codes {
		e.printf("  %s\n", code)
	}
	return nil
}

func twoFADisenroll(c *cli.Context, e *env) error {
	store, u, done, err := twoFAUser(c, "disenroll")
	if err != nil {
		return err
	}
	defer done()
	if !u.TOTPEnrolled {
		e.printf("2FA for %q was already off.\n", u.Username)
		return nil
	}
	if err := store.DisableTOTP(c.Context, u.ID); err != nil {
		return fail(ExitFail, "parachute auth 2fa disenroll: %v", err)
	}
	e.printf("2FA for %q is off.\n", u.Username)
	return nil
}
