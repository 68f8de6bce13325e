package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/servicemgr"
)

// tools are the programs modules are installed and run with, and how bad
// it is when the service manager's PATH lacks one the shell has: every
// module install and most modules need bun; some need node or npm.
var tools = []struct {
	name string
	sev  Severity
}{{"bun", Error}, {"node", Warn}, {"npm", Warn}}

// checkModuleEnv compares the PATH a module really gets (the hub's
// environment under the service manager) with the operator's shell: the
// most common reason a module works in a terminal but not under
// systemd/launchd.
func checkModuleEnv(ctx context.Context, d *Doctor, r *run) {
	p := d.Probes
	shellPATH := d.getenv("PATH")
	if p.Kind == servicemgr.KindNone || p.HubEnv == nil || r.unitErr != nil || !r.unitInstalled {
		// No manager or no unit: modules get the environment of whatever
		// runs `parachute serve`, which doctor cannot see.
		return
	}
	env, source, err := p.HubEnv(ctx, r.unit)
	if err != nil {
		r.add(Finding{Check: "module-path", Severity: Warn,
			Seen: fmt.Sprintf("could not read the environment the hub unit runs with: %v", err),
			Fix:  "systemctl" + scopeFlag(p.Kind) + " show -p Environment " + p.UnitName})
		return
	}
	r.hubEnv = env
	unitPATH, ok := lookup(env, "PATH")
	if !ok {
		// systemd's default for a unit without PATH.
		unitPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	detail := []string{"service manager PATH (" + source + "): " + unitPATH, "your shell's PATH: " + shellPATH}
	var problems []Finding
	var where []string
	for _, t := range tools {
		inUnit, inShell := findIn(unitPATH, t.name), findIn(shellPATH, t.name)
		switch {
		case inUnit == "" && inShell != "":
			problems = append(problems, Finding{Check: "module-path", Severity: t.sev,
				Seen: fmt.Sprintf("%s is on your shell's PATH (%s) but not on the PATH modules get under %s, so modules that need it fail there while working in a terminal",
					t.name, inShell, p.Kind),
				Detail: detail,
				Fix:    "parachute init   # run from this shell: rewrites the hub unit with this PATH and restarts the hub"})
		case inUnit == "" && t.name == "bun":
			problems = append(problems, Finding{Check: "module-path", Severity: Warn,
				Seen:   "bun is not installed (neither your shell nor the service manager finds it): modules cannot be installed",
				Detail: detail,
				Fix:    "curl -fsSL https://bun.sh/install | bash   # then, from a new shell: parachute init"})
		case inUnit != "":
			w := t.name + ": " + inUnit + " under " + string(p.Kind)
			if inShell != "" && inShell != inUnit {
				w += ", " + inShell + " in your shell"
			}
			where = append(where, w)
		}
	}
	for _, f := range problems {
		r.add(f)
	}
	if len(problems) == 0 {
		r.add(Finding{Check: "module-path", Severity: OK,
			Seen: "modules find their tools under the service manager: " + strings.Join(where, "; ")})
	}
	checkUnitEnv(d, r, env)
}

// checkUnitEnv compares the rest of the environment that decides where
// things are: the config root the hub unit serves against the one this
// shell's CLI uses (tokens, services.json and logs would be another
// hub's), and, for a unit that runs as the operator, where the hub's
// `bun add -g` puts modules against where this shell's bun looks.
func checkUnitEnv(d *Doctor, r *run, env []string) {
	p := d.Probes
	if root, ok := lookup(env, "PARACHUTE_HOME"); ok && root != "" && filepath.Clean(root) != filepath.Clean(d.Paths.Root) {
		r.add(Finding{Check: "module-env", Severity: Warn,
			Seen: fmt.Sprintf("the hub unit serves the config root %s, but this shell's CLI uses %s: its verbs read another token, services.json and logs", root, d.Paths.Root),
			Fix:  "export PARACHUTE_HOME=" + shellArg(root) + "   # or, to serve this one: parachute init"})
	}
	// A system unit runs as its own user with its own home, by design.
	if p.Kind != servicemgr.KindSystemdUser && p.Kind != servicemgr.KindLaunchd {
		return
	}
	unitBun, shellBun := bunHome(func(k string) string { v, _ := lookup(env, k); return v }), bunHome(d.getenv)
	if unitBun != "" && shellBun != "" && filepath.Clean(unitBun) != filepath.Clean(shellBun) {
		r.add(Finding{Check: "module-env", Severity: Warn,
			Seen: fmt.Sprintf("the hub installs modules into %s (BUN_INSTALL under %s), but bun in your shell uses %s: "+
				"what the hub installed is not where this shell's bun and `parachute vault` look", unitBun, p.Kind, shellBun),
			Fix: "parachute init   # run from this shell: rewrites the hub unit with this BUN_INSTALL and restarts the hub"})
	}
}

// bunHome is where bun installs global packages: $BUN_INSTALL, else
// $HOME/.bun ("" when neither is known).
func bunHome(getenv func(string) string) string {
	if b := getenv("BUN_INSTALL"); b != "" {
		return b
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".bun")
	}
	return ""
}

// checkTools says where bun, node and npm are when checkModuleEnv has no
// service-manager PATH to compare (no manager, as in a container, or no
// hub unit). Modules then get the environment of whatever runs `parachute
// serve`: in a container that is the image's, which doctor shares; in a
// terminal it is the shell's. Without this an operator on Fly or Render
// would learn nothing about the tools every module install needs.
func checkTools(_ context.Context, d *Doctor, r *run) {
	p := d.Probes
	if p.Kind != servicemgr.KindNone && p.HubEnv != nil && r.unitErr == nil && r.unitInstalled {
		return // checkModuleEnv compared the unit's PATH with the shell's
	}
	path := d.getenv("PATH")
	var where, missing []string
	for _, t := range tools {
		if w := findIn(path, t.name); w != "" {
			where = append(where, t.name+": "+w)
		} else {
			missing = append(missing, t.name)
		}
	}
	if findIn(path, "bun") == "" {
		r.add(Finding{Check: "tools", Severity: Warn,
			Seen:   "bun is not on this PATH, which a hub started here (parachute serve) gives its modules: bun modules cannot run, and installs fall back to npm",
			Detail: []string{"PATH: " + path},
			Fix:    "curl -fsSL https://bun.sh/install | bash   # then start the hub from a new shell"})
		return
	}
	seen := "modules of a hub started here (parachute serve) find " + strings.Join(where, "; ")
	if len(missing) > 0 {
		seen += " (not found: " + strings.Join(missing, ", ") + ")"
	}
	r.add(Finding{Check: "tools", Severity: OK, Seen: seen})
}

// lookup finds key in an environment list; the last assignment wins.
func lookup(env []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// findIn searches a PATH value for an executable name, as exec.LookPath
// would (relative entries skipped: a service runs in some other directory).
func findIn(pathList, name string) string {
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Disk thresholds for the config root's file system.
const (
	diskLow      = 2 << 30   // warn below 2 GiB free
	diskCritical = 256 << 20 // error below 256 MiB free: SQLite and installs fail
	bigLog       = 256 << 20 // a log file larger than this is worth a warning
)

// checkDisk: free space where PARACHUTE_HOME lives.
func checkDisk(_ context.Context, d *Doctor, r *run) {
	if d.Probes.DiskFree == nil {
		return
	}
	free, total, err := d.Probes.DiskFree(d.Paths.Root)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			r.add(Finding{Check: "disk", Severity: Warn, Seen: fmt.Sprintf("could not read free space at %s: %v", d.Paths.Root, err)})
		}
		return
	}
	f := Finding{Check: "disk", Severity: OK, Seen: fmt.Sprintf("%s free of %s at %s", human(free), human(total), d.Paths.Root)}
	if free < diskLow {
		f.Severity = Warn
		if free < diskCritical {
			f.Severity = Error
		}
		f.Seen = "only " + f.Seen
		f.Fix = "du -sh " + shellArg(d.Paths.Root) + "/* | sort -h   # find what is big\nparachute migrate --list   # legacy files that can be archived"
	}
	r.add(f)
}

// checkLogs: the hub's and the modules' log files, and any that grew big.
func checkLogs(_ context.Context, d *Doctor, r *run) {
	var total int64
	var big, bigArgs []string
	dirs, _ := filepath.Glob(filepath.Join(d.Paths.Root, "*", "logs"))
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil || !de.Type().IsRegular() {
				return nil
			}
			fi, err := de.Info()
			if err != nil {
				return nil
			}
			total += fi.Size()
			if fi.Size() > bigLog {
				big = append(big, path+" ("+human(uint64(fi.Size()))+")")
				bigArgs = append(bigArgs, shellArg(path))
			}
			return nil
		})
	}
	if len(big) == 0 {
		r.add(Finding{Check: "logs", Severity: OK, Seen: fmt.Sprintf("log files under %s take %s", d.Paths.Root, human(uint64(total)))})
		return
	}
	r.add(Finding{Check: "logs", Severity: Warn,
		Seen:   fmt.Sprintf("%d log file(s) are larger than %s (all logs: %s)", len(big), human(bigLog), human(uint64(total))),
		Detail: big,
		Fix:    "truncate -s 0 " + strings.Join(bigArgs, " ") + "   # after reading what you need"})
}

// human formats bytes with a binary unit and one decimal.
func human(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, units := float64(n)/1024, []string{"KB", "MB", "GB", "TB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
