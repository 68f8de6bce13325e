package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/install"
)

// scribeChoice is the transcription provider (and its API key) that
// `install scribe` sends to the installer.
type scribeChoice struct{ provider, key string }

// scribeProviderChoice settles scribe's provider for `install scribe`
// (reference lifecycle.md §3.4 step 10): --scribe-provider/--scribe-key
// when given; else, when stdin and stdout are terminals and no provider
// other than the default is configured yet, the interactive picker; else
// nothing (the installer then leaves scribe's configuration alone). It
// runs before the install request, so the choice travels in its body.
func scribeProviderChoice(e *env, paths config.Paths, provider, key string) scribeChoice {
	if key == keyFromStdin {
		key = readStdinKey(e)
	}
	if provider != "" || key != "" {
		return scribeChoice{provider, key}
	}
	if !isTerminal(stdin) || !isTerminal(e.stdout) {
		return scribeChoice{}
	}
	if cur := install.ConfiguredScribeProvider(paths); cur != "" && cur != install.DefaultScribeProvider {
		e.printf("Scribe's transcription provider is already %s; leaving it (pass --scribe-provider to change it).\n", cur)
		return scribeChoice{}
	}
	readKey := func() (string, error) {
		b, err := term.ReadPassword(int(stdin.Fd())) // a secret: not echoed
		e.printf("\n")
		return string(b), err
	}
	return pickScribeProvider(bufio.NewReader(stdin), e.stdout, readKey)
}

// keyFromStdin, given as --scribe-key, reads the key from standard input.
//
// Why: a key on the command line is readable by every local user in
// /proc/<pid>/cmdline for as long as the install runs, and stays in the
// shell's history; `--scribe-key - < keyfile` (or a hidden prompt on a
// terminal) keeps it out of both.
const keyFromStdin = "-"

// readStdinKey reads --scribe-key - from stdin: hidden on a terminal,
// else its first line; "" (no key) when nothing can be read.
func readStdinKey(e *env) string {
	if isTerminal(stdin) {
		e.printf("Paste the API key (input hidden): ")
		b, err := term.ReadPassword(int(stdin.Fd()))
		e.printf("\n")
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.TrimSpace(line)
}

// pickScribeProvider is the interactive picker: a numbered list, a choice
// by number or name (empty or "s" skips), up to five tries, then the API
// key for a cloud provider read with readKey (empty skips it).
func pickScribeProvider(in *bufio.Reader, out io.Writer, readKey func() (string, error)) scribeChoice {
	ps := install.ScribeProviders
	fmt.Fprintln(out, "Which transcription provider should scribe use?")
	for i, p := range ps {
		fmt.Fprintf(out, "  [%d] %-13s %s\n", i+1, p.Name, p.Blurb)
	}
	fmt.Fprintf(out, "  [s] skip — leave scribe at its default (%s)\n", install.DefaultScribeProvider)
	var picked install.ScribeProvider
	for try := 0; ; try++ {
		if try == 5 {
			fmt.Fprintln(out, "Too many invalid answers; leaving scribe's provider as it is.")
			return scribeChoice{}
		}
		fmt.Fprint(out, "> ")
		line, err := in.ReadString('\n')
		ans := strings.ToLower(strings.TrimSpace(line))
		if ans == "" || ans == "s" || ans == "skip" {
			fmt.Fprintf(out, "Leaving scribe at its default provider (%s).\n", install.DefaultScribeProvider)
			return scribeChoice{}
		}
		if n, nerr := strconv.Atoi(ans); nerr == nil && n >= 1 && n <= len(ps) {
			picked = ps[n-1]
			break
		}
		if p, ok := install.LookupScribeProvider(ans); ok {
			picked = p
			break
		}
		if errors.Is(err, io.EOF) {
			return scribeChoice{}
		}
		fmt.Fprintf(out, "Expected 1–%d, a provider name, or s (got %q).\n", len(ps), ans)
	}
	if picked.KeyEnv == "" {
		return scribeChoice{provider: picked.Name}
	}
	fmt.Fprintf(out, "Paste your %s (input hidden; empty to add it later): ", picked.KeyEnv)
	key, err := readKey()
	key = strings.TrimSpace(key)
	if err != nil || key == "" {
		key = ""
		fmt.Fprintf(out, "No key entered; add %s to scribe/.env later, then `parachute restart scribe`.\n", picked.KeyEnv)
	}
	return scribeChoice{provider: picked.Name, key: key}
}

// scribeProviderNames lists the providers for usage text.
func scribeProviderNames() []string {
	var out []string
	for _, p := range install.ScribeProviders {
		out = append(out, p.Name)
	}
	return out
}
