package manifest

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// writeServices writes contents to a fresh services.json and returns its path.
func writeServices(t *testing.T, contents string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "services.json")
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func names(f *File) []string {
	out := []string{}
	for _, s := range f.Services {
		out = append(out, s.Name)
	}
	return out
}

func row(name string, port int) string {
	b, _ := json.Marshal(map[string]any{
		"name": name, "port": port, "paths": []string{"/" + name},
		"health": "/" + name + "/health", "version": "1.0.0",
	})
	return string(b)
}

func rows(rs ...string) string {
	return `{"services": [` + strings.Join(rs, ",") + `]}`
}

// TestLoad covers the read side of runtime.md §7.1, adjusted: reads never
// write, and unknown keys survive.
func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		file string // "" means no file at all
		// strict
		wantNames []string
		wantErr   []string // substrings of the strict error; nil means success
		wantWarn  []string // substrings expected among the strict warnings
		// lenient
		lenientNames []string
		lenientWarn  []string
	}{
		{
			name:      "missing file is an empty registry", // §7.1.2
			wantNames: []string{}, lenientNames: []string{},
		},
		{
			name:         "invalid JSON", // §7.1.3
			file:         "{\n  \"services\": [\n    {\"name\": \"a\",,}\n  ]\n}\n",
			wantErr:      []string{"invalid JSON at line 3, column 18"},
			lenientNames: []string{}, lenientWarn: []string{"invalid JSON", "treating it as empty"},
		},
		{
			name:         "empty file",
			file:         "",
			wantErr:      []string{"file is empty"},
			lenientNames: []string{}, lenientWarn: []string{"file is empty"},
		},
		{
			name:         "top level is an array",
			file:         `[]`,
			wantErr:      []string{"top level must be an object, got an array"},
			lenientNames: []string{}, lenientWarn: []string{"top level"},
		},
		{
			name:         "services is not an array",
			file:         `{"services": {}}`,
			wantErr:      []string{`"services" must be an array, got an object`},
			lenientNames: []string{}, lenientWarn: []string{`"services" must be an array`},
		},
		{
			name:         "port 0", // §7.1.4
			file:         rows(row("a", 1950), row("foo", 0), row("b", 1951)),
			wantErr:      []string{`services[1] ("foo"): port must be an integer 1..65535, got 0`},
			lenientNames: []string{"a", "b"}, lenientWarn: []string{`skipping bad entry services[1] ("foo"): port`},
		},
		{
			name:         "fractional port",
			file:         rows(`{"name":"a","port":1940.5,"paths":[],"health":"/h","version":""}`),
			wantErr:      []string{`services[0] ("a"): port must be an integer 1..65535, got 1940.5`},
			lenientNames: []string{}, lenientWarn: []string{"skipping bad entry"},
		},
		{
			name:         "health without a slash", // §7.1.5
			file:         rows(`{"name":"a","port":1950,"paths":["/a"],"health":"a/health","version":"1"}`),
			wantErr:      []string{`services[0] ("a"): health must be a path starting with "/", got "a/health"`},
			lenientNames: []string{}, lenientWarn: []string{"skipping bad entry"},
		},
		{
			name:         "non-string version", // §7.1.5
			file:         rows(`{"name":"a","port":1950,"paths":["/a"],"health":"/h","version":1}`),
			wantErr:      []string{`services[0] ("a"): version must be a string, got a number`},
			lenientNames: []string{}, lenientWarn: []string{"skipping bad entry"},
		},
		{
			name:         "missing name",
			file:         rows(`{"port":1950,"paths":["/a"],"health":"/h","version":"1"}`),
			wantErr:      []string{`services[0]: name is required`},
			lenientNames: []string{}, lenientWarn: []string{"skipping bad entry services[0]: name"},
		},
		{
			name:         "path that is not a string",
			file:         rows(`{"name":"a","port":1950,"paths":["/a",3],"health":"/h","version":"1"}`),
			wantErr:      []string{`services[0] ("a"): paths[1] must be a string, got a number`},
			lenientNames: []string{}, lenientWarn: []string{"skipping bad entry"},
		},
		{
			name:         "row that is not an object",
			file:         rows(`"parachute-vault"`, row("a", 1950)),
			wantErr:      []string{`services[0]: row must be an object, got a string`},
			lenientNames: []string{"a"}, lenientWarn: []string{"skipping bad entry services[0]"},
		},
		{
			name:         "bad publicExposure",
			file:         rows(`{"name":"a","port":1950,"paths":[],"health":"/h","version":"1","publicExposure":"world"}`),
			wantErr:      []string{`publicExposure must be`},
			lenientNames: []string{}, lenientWarn: []string{"skipping bad entry"},
		},
		{
			name:         "two non-vault rows on one port", // §7.1.6
			file:         rows(row("parachute-scribe", 1944), row("third", 1944)),
			wantErr:      []string{`duplicate port 1944 — claimed by both "parachute-scribe" and "third"`},
			lenientNames: []string{"parachute-scribe"}, lenientWarn: []string{`skipping services[1] ("third"): duplicate port 1944`},
		},
		{
			name:      "vault instances share a port", // §7.1.7
			file:      rows(row("parachute-vault", 1940), row("parachute-vault-work", 1940)),
			wantNames: []string{"parachute-vault", "parachute-vault-work"}, lenientNames: []string{"parachute-vault", "parachute-vault-work"},
		},
		{
			name:         "vault and non-vault on one port",
			file:         rows(row("parachute-vault", 1940), row("parachute-vault-work", 1940), row("parachute-scribe", 1940)),
			wantErr:      []string{`duplicate port 1940 — claimed by both "parachute-vault" and "parachute-scribe"`},
			lenientNames: []string{"parachute-vault", "parachute-vault-work"}, lenientWarn: []string{"duplicate port 1940"},
		},
		{
			name:         "retired rows are dropped", // §7.1.10
			file:         rows(row("agent", 1944), row("parachute-app", 1946), row("parachute-surface", 1946)),
			wantNames:    []string{"parachute-surface"},
			wantWarn:     []string{`dropping services[0] ("agent"): module "agent" was retired on 2026-05-20`, `dropping services[1] ("parachute-app")`, "kill <pid>"},
			lenientNames: []string{"parachute-surface"}, lenientWarn: []string{"retired"},
		},
		{
			name:         "short-name twin is dropped", // §7.1.11
			file:         rows(row("scribe", 1943), row("parachute-scribe", 1943)),
			wantNames:    []string{"parachute-scribe"},
			wantWarn:     []string{`dropping services[0] ("scribe"): it duplicates "parachute-scribe" on port 1943`},
			lenientNames: []string{"parachute-scribe"}, lenientWarn: []string{"legacy short-name row"},
		},
		{
			name:      "lone short-name row is kept", // §7.1.11
			file:      rows(row("scribe", 1943)),
			wantNames: []string{"scribe"}, lenientNames: []string{"scribe"},
		},
		{
			name:         "malformed lastStartError is dropped, row stays", // §7.1.13
			file:         rows(`{"name":"a","port":1950,"paths":[],"health":"/h","version":"1","lastStartError":{"error_type":3}}`),
			wantNames:    []string{"a"},
			wantWarn:     []string{`services[0] ("a"): dropped malformed lastStartError (error_type must be a string, got a number)`},
			lenientNames: []string{"a"}, lenientWarn: []string{"dropped malformed lastStartError"},
		},
		{
			name:         "null optional fields count as absent",
			file:         rows(`{"name":"a","port":1950,"paths":[],"health":"/h","version":"1","displayName":null,"uis":null,"lastStartError":null}`),
			wantNames:    []string{"a"},
			lenientNames: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "services.json")
			if tt.file != "" || tt.wantErr != nil {
				path = writeServices(t, tt.file)
			}
			before, _ := os.ReadFile(path)

			f, err := Load(path)
			switch {
			case tt.wantErr != nil:
				var me *ManifestError
				if !errors.As(err, &me) {
					t.Fatalf("Load error = %v, want a *ManifestError", err)
				}
				if me.Path != path {
					t.Errorf("ManifestError.Path = %q, want %q", me.Path, path)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Load error = %q, want it to contain %q", err, want)
					}
				}
			case err != nil:
				t.Fatalf("Load: %v", err)
			default:
				if diff := cmp.Diff(tt.wantNames, names(f)); diff != "" {
					t.Errorf("Load rows (-want +got):\n%s", diff)
				}
				assertWarnings(t, "Load", f.Warnings, tt.wantWarn)
			}

			lf, warns := LoadLenient(path)
			if diff := cmp.Diff(tt.lenientNames, names(lf)); diff != "" {
				t.Errorf("LoadLenient rows (-want +got):\n%s", diff)
			}
			assertWarnings(t, "LoadLenient", warns, tt.lenientWarn)

			// Reads never write, and never create the file.
			after, statErr := os.ReadFile(path)
			if tt.file == "" && tt.wantErr == nil {
				if !errors.Is(statErr, os.ErrNotExist) {
					t.Errorf("a read created %s", path)
				}
			} else if string(after) != string(before) {
				t.Errorf("a read rewrote the file:\n%s", after)
			}
		})
	}
}

func assertWarnings(t *testing.T, who string, got, want []string) {
	t.Helper()
	if len(want) == 0 && len(got) != 0 {
		t.Errorf("%s warnings = %q, want none", who, got)
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("%s warnings = %q, want one containing %q", who, got, w)
		}
	}
}

// TestRoundTrip checks that every field, known or not, survives
// Parse→Marshal, that the output is the documented format, and that the
// status aliases are normalised (§7.1.12 adjusted, §7.1.14, §7.1.15).
func TestRoundTrip(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "full.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(in, "full.json")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got, err := f.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	golden := filepath.Join("testdata", "full.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}

	vault := f.Services[0]
	if got, want := vault.Uis["web"].Status, UIStatusPending; got != want {
		t.Errorf(`uis["web"].status = %q, want %q (pending-oauth normalised)`, got, want)
	}
	if got, want := vault.Uis["old"].Status, UIStatusInactive; got != want {
		t.Errorf(`uis["old"].status = %q, want %q (disabled normalised)`, got, want)
	}
	if got := vault.Supervise.StopGrace(0).Seconds(); got != 2.5 {
		t.Errorf("supervise stop grace = %vs, want 2.5s", got)
	}

	// Marshal is a fixed point: parsing the output and writing it again
	// changes nothing.
	f2, err := Parse(got, "golden")
	if err != nil {
		t.Fatalf("Parse(golden): %v", err)
	}
	again, err := f2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(got), string(again)); diff != "" {
		t.Errorf("second round trip changed the output (-first +second):\n%s", diff)
	}
}

func TestMarshalEmpty(t *testing.T) {
	got, err := (&File{}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"services\": []\n}\n"; string(got) != want {
		t.Errorf("Marshal(empty) = %q, want %q", got, want)
	}
}

func TestFind(t *testing.T) {
	f, err := Parse([]byte(rows(
		row("parachute-vault-work", 1940), row("parachute-vault", 1940),
		row("parachute-lens", 1942), row("my-module", 1950),
	)), "services.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		short    string
		wantName string // "" means not found
	}{
		{"vault", "parachute-vault-work"}, // first vault row in file order
		{"notes", "parachute-lens"},
		{"my-module", "my-module"},
		{"parachute-vault", "parachute-vault"},
		{"scribe", ""},
	}
	for _, tt := range tests {
		t.Run(tt.short, func(t *testing.T) {
			s, ok := f.Find(tt.short)
			if ok != (tt.wantName != "") || s.Name != tt.wantName {
				t.Errorf("Find(%q) = %q, %v; want %q", tt.short, s.Name, ok, tt.wantName)
			}
		})
	}
	if _, ok := (*File)(nil).Find("vault"); ok {
		t.Error("Find on a nil File found a row")
	}
}

func TestServiceJSON(t *testing.T) {
	// Service works with encoding/json directly, extras included.
	var s Service
	in := `{"name":"a","port":1950,"paths":["/a"],"health":"/h","version":"1","zz":{"k":[1,2]},"aa":true}`
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a","port":1950,"paths":["/a"],"health":"/h","version":"1","aa":true,"zz":{"k":[1,2]}}`
	if string(out) != want {
		t.Errorf("Marshal = %s\nwant      %s", out, want)
	}
	// An Extra key named like a known field never overrides it.
	s.Extra["port"] = json.RawMessage(`1`)
	out, _ = json.Marshal(s)
	if !strings.Contains(string(out), `"port":1950`) || strings.Count(string(out), `"port"`) != 1 {
		t.Errorf("an Extra key shadowed a known field: %s", out)
	}
}

func TestSupervisePolicyDefaults(t *testing.T) {
	var nilPolicy *SupervisePolicy
	if got := nilPolicy.Crashes(3); got != 3 {
		t.Errorf("nil Crashes = %d, want 3", got)
	}
	p := &SupervisePolicy{MaxCrashes: 5}
	if got := p.Crashes(3); got != 5 {
		t.Errorf("Crashes = %d, want 5", got)
	}
	if got := p.ReadyTimeout(4e9); got != 4e9 {
		t.Errorf("ReadyTimeout = %v, want the default", got)
	}
	if got := p.ResponseHeaderTimeout(6e10); got != 6e10 {
		t.Errorf("ResponseHeaderTimeout = %v, want the default", got)
	}
	if got := nilPolicy.ResponseHeaderTimeout(6e10); got != 6e10 {
		t.Errorf("nil ResponseHeaderTimeout = %v, want the default", got)
	}
}

// TestSuperviseResponseHeaderTimeout: the proxy's header wait is read from
// a row's supervise policy in whole seconds, 1..3600; anything else names
// the field.
func TestSuperviseResponseHeaderTimeout(t *testing.T) {
	row := func(v string) []byte {
		return []byte(`{"services":[{"name":"m","port":1950,"paths":["/m"],"health":"/m/health","version":"1",` +
			`"supervise":{"responseHeaderTimeoutSeconds":` + v + `}}]}`)
	}
	f, err := Parse(row("600"), "services.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Services[0].Supervise.ResponseHeaderTimeout(time.Minute); got != 10*time.Minute {
		t.Errorf("ResponseHeaderTimeout = %v, want 10m", got)
	}
	out, _ := json.Marshal(f.Services[0].Supervise)
	if !strings.Contains(string(out), `"responseHeaderTimeoutSeconds":600`) {
		t.Errorf("round trip lost the field: %s", out)
	}
	for _, bad := range []string{"0", "-1", "3601", "1.5", `"60"`, "1e12"} {
		if _, err := Parse(row(bad), "services.json"); err == nil || !strings.Contains(err.Error(), "supervise.responseHeaderTimeoutSeconds") {
			t.Errorf("responseHeaderTimeoutSeconds %s: err = %v, want one naming the field", bad, err)
		}
	}
}

// TestExamples loads the example files in testdata.
func TestExamples(t *testing.T) {
	tests := []struct {
		file      string
		wantNames []string
		wantWarns int
	}{
		{"reference.json", []string{"parachute-vault", "parachute-scribe"}, 0},
		{"cleanup.json", []string{"parachute-scribe"}, 2},
		{"full.json", []string{"parachute-vault", "parachute-scribe"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.wantNames, names(f)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if len(f.Warnings) != tt.wantWarns {
				t.Errorf("warnings = %q, want %d", f.Warnings, tt.wantWarns)
			}
		})
	}
	if _, err := LoadModule(filepath.Join("testdata", "nowhere")); err == nil {
		t.Error("LoadModule of a missing dir succeeded")
	}
	data, err := os.ReadFile(filepath.Join("testdata", "module.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseModule(data, "module.json"); err != nil {
		t.Errorf("testdata/module.json: %v", err)
	}
}
