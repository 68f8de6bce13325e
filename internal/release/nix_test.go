package release

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openparachute/parachute/internal/unit"
)

// nixConfig is what the tests add to Nix's configuration. Why: Debian's
// nix-bin defaults build-users-group to "nixbld" for root and, on a machine
// where that group does not exist (a fresh one: nothing ran Nix's setup),
// warns about it on every call. The tests only parse, evaluate and hash,
// building nothing, so they need no build users; with the setting empty
// their result cannot depend on what an earlier install left on the machine.
const nixConfig = "build-users-group ="

// nixCommand is exec.Command for a Nix tool with nixConfig applied. Nix
// reads NIX_CONFIG after nix.conf and a later line wins, so nixConfig goes
// after whatever NIX_CONFIG the caller has.
func nixCommand(name string, args ...string) *exec.Cmd {
	conf := nixConfig
	if c := os.Getenv("NIX_CONFIG"); c != "" {
		conf = c + "\n" + conf
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(filterEnv(os.Environ(), "NIX_CONFIG"), "NIX_CONFIG="+conf)
	return cmd
}

// nixEval evaluates a Nix expression strictly and returns its value as
// JSON: nix-instantiate's stdout alone, its stderr left to the log.
func nixEval(t *testing.T, nixInst, expr string) []byte {
	t.Helper()
	return []byte(runCmd(t, nixCommand(nixInst, "--eval", "--strict", "--json", "-E", expr)))
}

// TestNixEvalWithoutBuildGroup evaluates as on a fresh machine, where the
// build-users-group Nix is told to use does not exist: the value must
// decode and Nix must not warn about the group (nixConfig overrides it).
func TestNixEvalWithoutBuildGroup(t *testing.T) {
	nixInst := need(t, "nix-instantiate", "nix-bin")
	t.Setenv("NIX_CONFIG", "build-users-group = parachute-no-such-group")
	var got struct{ A []int }
	if out := nixEval(t, nixInst, `{ a = [ 1 (1 + 1) ]; }`); json.Unmarshal(out, &got) != nil || len(got.A) != 2 {
		t.Errorf("nix-instantiate --json printed %q, want {\"a\":[1,2]}", out)
	}
	cmd := nixCommand(nixInst, "--eval", "-E", "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("nix-instantiate: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "build-users-group") {
		t.Errorf("nix-instantiate still warns about the build group:\n%s", stderr.String())
	}
}

// narTree writes a tree with every kind of NAR node: nested directories,
// an executable, an empty file, a symlink, names that sort by byte.
func narTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]struct {
		data string
		mode os.FileMode
	}{
		"a/b/c.txt":     {"hello\n", 0o644},
		"a/run.sh":      {"#!/bin/sh\necho hi\n", 0o755},
		"B":             {"", 0o644},
		"z/modules.txt": {"# github.com/x/y v1.0.0\n## explicit; go 1.26\n", 0o600},
	}
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../B", filepath.Join(dir, "a", "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNARHashMatchesNix compares the Go NAR hash with Nix's own
// (nix-hash from Debian's nix-bin) on a tree with every node type.
func TestNARHashMatchesNix(t *testing.T) {
	nixHash := need(t, "nix-hash", "nix-bin")
	dir := narTree(t)
	sum, err := NARHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(runCmd(t, nixCommand(nixHash, "--type", "sha256", dir)))
	if got := hex.EncodeToString(sum); got != want {
		t.Errorf("NARHash = %s, nix-hash says %s", got, want)
	}
	// A file's mode other than the owner's x bit is not part of the hash.
	if err := os.Chmod(filepath.Join(dir, "a", "b", "c.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := NARHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(again) != want {
		t.Error("the hash changed with a non-executable mode bit")
	}
}

// TestFlakeVendorHash recomputes buildGoModule's vendorHash from `go mod
// vendor` and fails when flake.nix pins another one: after a go.mod or
// go.sum change, run `make nix-hash`.
func TestFlakeVendorHash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not vendoring the module")
	}
	root := repoRoot(t)
	want, err := VendorHash(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FlakeVendorHash(root)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("flake.nix pins vendorHash %s, but go mod vendor hashes to %s: run `make nix-hash`", got, want)
	}
}

func TestSetFlakeVendorHash(t *testing.T) {
	root := t.TempDir()
	flake := "{\n  vendorHash = \"sha256-AAAA=\";\n}\n"
	if err := os.WriteFile(filepath.Join(root, FlakeFile), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := SetFlakeVendorHash(root, "sha256-BBBB+/=")
	if err != nil || !changed {
		t.Fatalf("SetFlakeVendorHash = %v, %v; want a change", changed, err)
	}
	if got, _ := FlakeVendorHash(root); got != "sha256-BBBB+/=" {
		t.Errorf("vendorHash after the update = %q", got)
	}
	if changed, err := SetFlakeVendorHash(root, "sha256-BBBB+/="); err != nil || changed {
		t.Errorf("second update = %v, %v; want no change", changed, err)
	}
}

// TestNixFilesParse runs every .nix file of the repository through
// nix-instantiate --parse.
func TestNixFilesParse(t *testing.T) {
	nixInst := need(t, "nix-instantiate", "nix-bin")
	root := repoRoot(t)
	files := []string{filepath.Join(root, FlakeFile)}
	more, err := filepath.Glob(filepath.Join(root, "packaging", "nix", "*.nix"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			runCmd(t, nixCommand(nixInst, "--parse", f))
		})
	}
}

func TestNixUnitGenerated(t *testing.T) {
	if err := CheckGenerated(repoRoot(t)); err != nil {
		t.Error(err)
	}
}

// TestNixUnitEvaluates evaluates the generated NixOS service with Nix and
// compares it, directive by directive, with the packaged system unit the
// deb and rpm ship: the two come from one model and must not drift.
func TestNixUnitEvaluates(t *testing.T) {
	nixInst := need(t, "nix-instantiate", "nix-bin")
	expr := `import ` + filepath.Join(repoRoot(t), NixUnitFile) + ` {
		package = "/nix/store/0000-parachute"; user = "hub"; group = "hubs"; port = 2000;
		environment = { PARACHUTE_BIND_HOST = "0.0.0.0"; };
	}`
	out := nixEval(t, nixInst, expr)
	var got struct {
		Description   string
		After, Wants  []string
		WantedBy      []string
		UnitConfig    map[string]string
		Environment   map[string]string
		ServiceConfig map[string]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}

	s, err := unit.PackagedSystemService()
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := unit.RenderSystemd(s)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := parseUnit(rendered)
	if err != nil {
		t.Fatal(err)
	}
	// What the packaged unit says, with the NixOS substitutions applied.
	var want []string
	for _, l := range lines {
		v := l.Value
		switch l.Key {
		case "User":
			v = "hub"
		case "Group":
			v = "hubs"
		case "ExecStart":
			v = strings.Replace(v, PackagedBinary, "/nix/store/0000-parachute/bin/parachute", 1)
		case "Environment":
			name, value, err := envAssignment(v)
			if err != nil {
				t.Fatal(err)
			}
			if name == "PATH" {
				continue
			}
			if name == "PORT" {
				value = "2000"
			}
			v = name + "=" + value
		}
		want = append(want, l.Section+"."+l.Key+"="+v)
	}
	want = append(want, "Service.Environment=PARACHUTE_BIND_HOST=0.0.0.0")

	var have []string
	add := func(sec, k, v string) { have = append(have, sec+"."+k+"="+v) }
	add("Unit", "Description", got.Description)
	for _, v := range got.After {
		add("Unit", "After", v)
	}
	for _, v := range got.Wants {
		add("Unit", "Wants", v)
	}
	for _, v := range got.WantedBy {
		add("Install", "WantedBy", v)
	}
	for k, v := range got.UnitConfig {
		add("Unit", k, v)
	}
	for k, v := range got.Environment {
		add("Service", "Environment", k+"="+v)
	}
	for k, v := range got.ServiceConfig {
		add("Service", k, v)
	}
	sort.Strings(want)
	sort.Strings(have)
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("NixOS service vs packaged unit (-unit +nix):\n%s", diff)
	}
}

// TestFlakeEvaluates evaluates flake.nix's outputs with Nix against a stub
// nixpkgs (the real one cannot be fetched here): the package gets the
// pinned vendorHash, the source, the version stamp and Go's static build;
// `nix run` runs `parachute serve`; the module, overlay and checks exist.
// The real build, module and VM test run upstream (`nix flake check`).
func TestFlakeEvaluates(t *testing.T) {
	nixInst := need(t, "nix-instantiate", "nix-bin")
	root := repoRoot(t)
	expr := `
let
  flake = import ` + filepath.Join(root, FlakeFile) + `;
  systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  lib = {
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    optionalAttrs = c: a: if c then a else { };
    platforms = { linux = [ "x86_64-linux" ]; darwin = [ "aarch64-darwin" ]; };
  };
  mkPkgs = system: rec {
    inherit system;
    stdenv.isLinux = builtins.match ".*-linux" system != null;
    buildGoModule = args: args // { type = "derivation"; outPath = "/nix/store/0000-parachute"; };
    installShellFiles = "installShellFiles";
    callPackage = f: args: import f ({ inherit lib buildGoModule installShellFiles; } // args);
    # The store is read-only here: the stub script "is" its text.
    writeShellScript = name: text: { __toString = _: text; };
    testers.runNixOSTest = test: test;
  };
  nixpkgs = { inherit lib; legacyPackages = lib.genAttrs systems mkPkgs; };
  self = flake.outputs { inherit self nixpkgs; } // {
    outPath = "/src"; rev = "0123abc"; shortRev = "0123abc"; lastModifiedDate = "20261126000000";
  };
  pkg = self.packages.x86_64-linux.default;
in {
  inherit (pkg) pname version vendorHash subPackages ldflags;
  src = toString pkg.src.outPath;
  cgo = pkg.env.CGO_ENABLED;
  app = self.apps.x86_64-linux.default.program;
  appType = self.apps.x86_64-linux.default.type;
  module = builtins.isFunction self.nixosModules.default;
  overlay = (self.overlays.default (mkPkgs "x86_64-linux") { }).parachute.pname;
  checks = builtins.attrNames self.checks.x86_64-linux;
  darwinChecks = builtins.attrNames self.checks.aarch64-darwin;
  test = self.checks.x86_64-linux.nixos.name;
}`
	out := nixEval(t, nixInst, expr)
	var got struct {
		Pname, Version, VendorHash, Src, App, AppType, Overlay, Test string
		SubPackages, Ldflags, Checks, DarwinChecks                   []string
		Cgo                                                          int
		Module                                                       bool
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	pinned, err := FlakeVendorHash(root)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, got, want string }{
		{"pname", got.Pname, "parachute"},
		{"version", got.Version, "0.0.0-20261126000000-0123abc"},
		{"vendorHash", got.VendorHash, pinned},
		{"src", got.Src, "/src"},
		{"app type", got.AppType, "app"},
		{"overlay package", got.Overlay, "parachute"},
		{"VM test", got.Test, "parachute"},
		{"CGO_ENABLED", strconv.Itoa(got.Cgo), "0"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.Contains(got.App, "exec /nix/store/0000-parachute/bin/parachute serve") {
		t.Errorf("apps.default runs:\n%s\nwant exec .../bin/parachute serve", got.App)
	}
	if diff := cmp.Diff([]string{"cmd/parachute"}, got.SubPackages); diff != "" {
		t.Errorf("subPackages (-want +got):\n%s", diff)
	}
	ld := strings.Join(got.Ldflags, " ")
	for _, want := range []string{"buildinfo.Version=0.0.0-20261126000000-0123abc", "buildinfo.Commit=0123abc"} {
		if !strings.Contains(ld, want) {
			t.Errorf("ldflags %q lack %q", ld, want)
		}
	}
	if diff := cmp.Diff([]string{"nixos", "package"}, got.Checks); diff != "" {
		t.Errorf("Linux checks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"package"}, got.DarwinChecks); diff != "" {
		t.Errorf("macOS checks (-want +got):\n%s", diff)
	}
	if !got.Module {
		t.Error("nixosModules.default is not a module function")
	}
}

// TestNixOSModuleEvaluates calls the NixOS module with a stub lib (real
// nixpkgs cannot be fetched here) and checks what it defines: the
// parachute-hub service from the unit model with the options applied, the
// system account, the firewall port and the bind-address environment.
func TestNixOSModuleEvaluates(t *testing.T) {
	nixInst := need(t, "nix-instantiate", "nix-bin")
	module := filepath.Join(repoRoot(t), "packaging", "nix", "module.nix")
	expr := `
let
  lib = {
    mkEnableOption = d: { type = "bool"; };
    mkOption = o: o;
    literalExpression = e: e;
    types = { package = "package"; str = "str"; port = "port"; bool = "bool"; listOf = t: "list"; };
    mkIf = cond: value: if cond then value else { };
    optional = cond: v: if cond then [ v ] else [ ];
    optionalAttrs = cond: a: if cond then a else { };
  };
  eval = settings: import ` + module + ` {
    inherit lib;
    pkgs = { parachute = "/nix/store/default-parachute"; };
    config.services.parachute = {
      enable = true; package = "/nix/store/0000-parachute"; user = "parachute"; group = "parachute";
      port = 1939; listenAddress = "127.0.0.1"; openFirewall = false; path = [ ];
    } // settings;
  };
  open = eval { port = 2000; listenAddress = "0.0.0.0"; openFirewall = true; };
  other = eval { user = "alice"; group = "users"; openFirewall = true; };
  defaults = eval { };
in {
  options = builtins.attrNames (eval { }).options.services.parachute;
  execStart = open.config.systemd.services.parachute-hub.serviceConfig.ExecStart;
  user = open.config.systemd.services.parachute-hub.serviceConfig.User;
  env = open.config.systemd.services.parachute-hub.environment;
  ports = open.config.networking.firewall.allowedTCPPorts;
  account = open.config.users.users.parachute.isSystemUser;
  otherUser = other.config.systemd.services.parachute-hub.serviceConfig.User;
  otherAccounts = other.config.users.users;
  warnings = other.config.warnings;
  defaultEnv = defaults.config.systemd.services.parachute-hub.environment;
}`
	out := nixEval(t, nixInst, expr)
	var got struct {
		Options         []string
		ExecStart, User string
		Env, DefaultEnv map[string]string
		Ports           []int
		Account         bool
		OtherUser       string
		OtherAccounts   map[string]any
		Warnings        []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	want := []string{"enable", "group", "listenAddress", "openFirewall", "package", "path", "port", "user"}
	if diff := cmp.Diff(want, got.Options); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	if got.ExecStart != "/nix/store/0000-parachute/bin/parachute serve" {
		t.Errorf("ExecStart = %q", got.ExecStart)
	}
	// The unit delegates its cgroup (Delegate=yes); the marker tells the hub
	// so (supervisor.DelegationEnv).
	if diff := cmp.Diff(map[string]string{"PARACHUTE_HOME": "/var/lib/parachute", "PORT": "2000",
		"PARACHUTE_BIND_HOST": "0.0.0.0", unit.DelegationEnv: "1"}, got.Env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"PARACHUTE_HOME": "/var/lib/parachute", "PORT": "1939",
		unit.DelegationEnv: "1"}, got.DefaultEnv); diff != "" {
		t.Errorf("default environment, which must not bind beyond loopback (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2000}, got.Ports); diff != "" {
		t.Errorf("firewall ports (-want +got):\n%s", diff)
	}
	if got.User != "parachute" || !got.Account {
		t.Errorf("User = %q, system account = %v; want parachute, true", got.User, got.Account)
	}
	if got.OtherUser != "alice" || len(got.OtherAccounts) != 0 {
		t.Errorf("with user alice: User = %q, accounts created = %v; want alice and none", got.OtherUser, got.OtherAccounts)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "listenAddress") {
		t.Errorf("openFirewall on loopback warns %q, want a hint at listenAddress", got.Warnings)
	}
}
