package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/openparachute/parachute/internal/accounts"
	"github.com/openparachute/parachute/internal/auth"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/hubclient"
	"github.com/openparachute/parachute/internal/hubdb"
)

// stdin is where set-password prompts read from; tests replace it (Main
// takes only the output writers).
var stdin = os.Stdin

// authUserCommands are the hub-local account verbs of `parachute auth`.
// Like the reference, they open hub.db directly (the hub need not run).
func authUserCommands(e *env) []*cli.Command {
	return []*cli.Command{
		{
			Name:      "set-password",
			Usage:     "create the hub user, or change a user's password",
			UsageText: "parachute auth set-password [--username <name>] [--password <pw>] [--allow-multi]",
			Description: `Without a user yet, creates one (named "owner" unless --username) and writes a fresh
operator token. With one, changes the password of --username (default: the first user,
the hub's admin) and refreshes the operator token. A hub has one user unless
--allow-multi creates another. Without --password it prompts twice on a terminal.`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "username", Usage: "the user (default: the existing one, or \"owner\")"},
				&cli.StringFlag{Name: "password", Usage: "the new password (visible to other local users in ps; prefer the prompt)"},
				&cli.BoolFlag{Name: "allow-multi", Usage: "allow creating another user when one exists"},
			},
			Action: func(c *cli.Context) error { return setPassword(c, e) },
		},
		{
			Name:  "list-users",
			Usage: "show the hub's user accounts",
			Action: func(c *cli.Context) error {
				if err := noArgs(c, "list-users"); err != nil {
					return err
				}
				return listUsers(c, e)
			},
		},
	}
}

// openAccounts opens hub.db under the config root for an account verb.
func openAccounts(c *cli.Context, verb string) (*accounts.Store, func(), config.Paths, error) {
	paths, err := config.Load()
	if err != nil {
		return nil, nil, paths, rootErr(err)
	}
	if err := paths.EnsureRoot(); err != nil {
		return nil, nil, paths, rootErr(err)
	}
	db, err := hubdb.Open(c.Context, paths.HubDB())
	if err != nil {
		return nil, nil, paths, fail(ExitFail, "parachute auth %s: %v", verb, err)
	}
	return accounts.NewStore(db), func() { db.Close() }, paths, nil
}

func setPassword(c *cli.Context, e *env) error {
	const verb = "set-password"
	failf := func(format string, args ...any) error {
		return fail(ExitFail, "parachute auth "+verb+": "+format, args...)
	}
	if c.Args().Len() > 0 {
		return fail(ExitUsage, "parachute auth %s: unexpected argument %q\nRun `parachute auth %s --help` for usage.", verb, c.Args().First(), verb)
	}
	for _, f := range []string{"username", "password"} {
		if c.IsSet(f) && c.String(f) == "" {
			return fail(ExitUsage, "parachute auth %s: --%s requires a value", verb, f)
		}
	}
	store, done, paths, err := openAccounts(c, verb)
	if err != nil {
		return err
	}
	defer done()
	ctx := c.Context
	users, err := store.List(ctx)
	if err != nil {
		return failf("%v", err)
	}
	name := c.String("username")
	var target *accounts.User
	switch {
	case name == "" && len(users) > 0:
		target = &users[0] // the first user is the admin
		name = target.Username
	case name == "":
		name = "owner"
	default:
		for i := range users {
			if users[i].Username == name {
				target = &users[i]
			}
		}
	}
	if target == nil && len(users) > 0 && !c.Bool("allow-multi") {
		return failf("a user named %q already exists. To create another, pass --allow-multi.", users[0].Username)
	}
	if target == nil {
		if err := accounts.ValidateUsername(name); err != nil {
			return failf("%v", err)
		}
	}

	password := c.String("password")
	interactive := isTerminal(stdin) && isTerminal(e.stdout)
	if password == "" {
		if !interactive {
			return failf("--password is required when stdin is not a TTY")
		}
		if password, err = promptNewPassword(ctx, e, name); err != nil {
			return failf("%v", err)
		}
	}

	if err := accounts.ValidatePassword(password); err != nil {
		return failf("%v", err)
	}
	if target != nil {
		// The old password may be why the operator is here: no browser
		// signed in with it outlives the change (the web page's change
		// keeps only the session making it; from the box there is none).
		if err := store.SetPasswordEndingSessions(ctx, target.ID, password); err != nil {
			return failf("%v", err)
		}
		e.printf("Updated password for %q.\nBrowsers signed in as %q must sign in again.\n", target.Username, target.Username)
		if err := writeOperatorToken(ctx, paths); err != nil {
			return failf("%v", err)
		}
		e.printf("Refreshed operator token at %s.\n", paths.OperatorToken())
		return nil
	}
	if len(users) == 0 && !c.IsSet("username") && interactive {
		answer, err := readLine(e, `Create the first hub user named "owner"? [Y/n] `)
		if err != nil {
			return failf("%v", err)
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "" && a != "y" && a != "yes" {
			return failf("aborted; pass --username <name> to choose a different name")
		}
	}
	// The operator typed this password themselves: no forced change at
	// the first sign-in.
	u, err := store.Create(ctx, name, password, accounts.CreateOptions{
		AllowMulti: c.Bool("allow-multi"), PasswordChanged: true})
	if err != nil {
		return failf("%v", err)
	}
	e.printf("Created hub user %q (id=%s).\n", u.Username, u.ID)
	if err := writeOperatorToken(ctx, paths); err != nil {
		return failf("%v", err)
	}
	e.printf("Wrote operator token to %s (mode 0600).\n", paths.OperatorToken())
	return nil
}

// writeOperatorToken mints a fresh admin operator token into
// <root>/operator.token, as rotate-operator does.
func writeOperatorToken(ctx context.Context, paths config.Paths) error {
	store, err := auth.Open(paths.HubDB())
	if err != nil {
		return err
	}
	defer store.Close()
	issuer := config.ConfiguredIssuer(getenv)
	if issuer == "" {
		issuer, _ = hubclient.Locate(paths)
	}
	if _, err := store.RotateOperator(ctx, paths.OperatorToken(), issuer, "admin"); err != nil {
		return fmt.Errorf("writing the operator token: %w", err)
	}
	return nil
}

// promptNewPassword asks for a password twice without echo.
func promptNewPassword(ctx context.Context, e *env, name string) (string, error) {
	e.printf("Password for %q: ", name)
	p1, err := readPassword(ctx, stdin)
	e.printf("\n")
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if len(p1) == 0 {
		return "", errors.New("password cannot be empty")
	}
	e.printf("Confirm password: ")
	p2, err := readPassword(ctx, stdin)
	e.printf("\n")
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(p1) != string(p2) {
		return "", errors.New("passwords did not match")
	}
	return string(p1), nil
}

// readPassword reads one line from the terminal f without echo. Why not
// term.ReadPassword alone: it turns echo off around a blocking read, and
// Ctrl-C (SIGINT, which main turns into ctx's cancellation) would end the
// process with echo still off, leaving the user typing blind in their
// shell. On cancellation the terminal is restored before returning; the
// read itself cannot be interrupted and ends with the process.
func readPassword(ctx context.Context, f *os.File) ([]byte, error) {
	fd := int(f.Fd())
	saved, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type line struct {
		b   []byte
		err error
	}
	read := make(chan line, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		read <- line{b, err}
	}()
	select {
	case l := <-read:
		return l.b, l.err
	case <-ctx.Done():
		_ = term.Restore(fd, saved)
		return nil, ctx.Err()
	}
}

// readLine prints prompt and reads one line from stdin.
func readLine(e *env, prompt string) (string, error) {
	e.printf("%s", prompt)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return line, nil
}

func listUsers(c *cli.Context, e *env) error {
	store, done, _, err := openAccounts(c, "list-users")
	if err != nil {
		return err
	}
	defer done()
	users, err := store.List(c.Context)
	if err != nil {
		return fail(ExitFail, "parachute auth list-users: %v", err)
	}
	if len(users) == 0 {
		e.printf("(no hub users yet — run `parachute auth set-password` to create the first one)\n")
		return nil
	}
	// Usernames come from hub.db, which other programs write: shown
	// through the escaping writer so a name cannot drive the terminal.
	w := newTermSafeWriter(e.stdout)
	fmt.Fprintf(w, "%-18s %-36s  %s\n", "USERNAME", "ID", "CREATED")
	for _, u := range users {
		fmt.Fprintf(w, "%-18.18s %-36.36s  %s\n", u.Username, u.ID, hubdb.FormatTime(u.CreatedAt))
	}
	return w.Flush()
}
