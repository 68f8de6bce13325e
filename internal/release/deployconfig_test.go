package release

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/openparachute/parachute/internal/config"
)

// imageContract is what a platform's deploy file must agree on with the
// image: the volume, the port, the health path, the stop signal.
var imageContract = struct {
	home, healthPath, stopSignal, image string
	port                                int
}{ImageHome, "/health", "SIGTERM", ImageRepository + ":latest", config.DefaultHubPort}

// firstAdminSecrets seed the first admin (accounts.SeedInitialAdmin).
var firstAdminSecrets = []string{"PARACHUTE_INITIAL_ADMIN_USERNAME", "PARACHUTE_INITIAL_ADMIN_PASSWORD"}

// TestFlyConfig parses fly.toml (with Python's tomllib: a real TOML parser,
// and no TOML dependency in go.mod) and checks it against the image: the
// volume is the image's data directory, the service port its PORT, the
// check /health, the kill signal its stop signal, and the file documents
// seeding the first admin through `fly secrets set`.
func TestFlyConfig(t *testing.T) {
	py := need(t, "python3", "python3")
	path := filepath.Join(repoRoot(t), "fly.toml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := runCmd(t, exec.Command(py, "-c",
		"import json, sys, tomllib; json.dump(tomllib.load(open(sys.argv[1], 'rb')), sys.stdout)", path))
	var fly struct {
		KillSignal string `json:"kill_signal"`
		Build      struct{ Image string }
		Env        map[string]string
		Mounts     []struct{ Source, Destination string }
		HTTP       struct {
			InternalPort       int    `json:"internal_port"`
			AutoStop           string `json:"auto_stop_machines"`
			MinMachinesRunning int    `json:"min_machines_running"`
			Checks             []struct{ Method, Path string }
		} `json:"http_service"`
	}
	if err := json.Unmarshal([]byte(out), &fly); err != nil {
		t.Fatalf("fly.toml as JSON: %v\n%s", err, out)
	}
	c := imageContract
	if fly.Build.Image != c.image {
		t.Errorf("build.image = %q, want %q", fly.Build.Image, c.image)
	}
	if len(fly.Mounts) != 1 || fly.Mounts[0].Destination != c.home {
		t.Errorf("mounts = %+v, want one at %s", fly.Mounts, c.home)
	}
	if fly.HTTP.InternalPort != c.port {
		t.Errorf("internal_port = %d, want %d", fly.HTTP.InternalPort, c.port)
	}
	if len(fly.HTTP.Checks) == 0 || fly.HTTP.Checks[0].Path != c.healthPath || fly.HTTP.Checks[0].Method != "GET" {
		t.Errorf("checks = %+v, want GET %s", fly.HTTP.Checks, c.healthPath)
	}
	if fly.KillSignal != c.stopSignal {
		t.Errorf("kill_signal = %q, want %q", fly.KillSignal, c.stopSignal)
	}
	if fly.HTTP.AutoStop != "off" || fly.HTTP.MinMachinesRunning != 1 {
		t.Errorf("one hub per volume: auto_stop_machines %q, min_machines_running %d", fly.HTTP.AutoStop, fly.HTTP.MinMachinesRunning)
	}
	for k := range fly.Env {
		if strings.Contains(k, "PASSWORD") || strings.HasPrefix(k, "PARACHUTE_INITIAL_ADMIN") {
			t.Errorf("[env] sets %s in the clear; it belongs in `fly secrets set`", k)
		}
	}
	for _, s := range firstAdminSecrets {
		if !strings.Contains(string(raw), s+"=") || !strings.Contains(string(raw), "fly secrets set") {
			t.Errorf("fly.toml does not document `fly secrets set %s=…`", s)
		}
	}
}

// TestRenderConfig parses render.yaml and checks the Blueprint against the
// image: an image-runtime web service, the disk at the data directory,
// /health as its check, PORT the image's port, and the first-admin
// variables as secrets the dashboard asks for (sync: false, no value).
func TestRenderConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "render.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var bp struct {
		Services []struct {
			Type, Name, Runtime, Plan string
			Image                     struct{ URL string }
			HealthCheckPath           string `yaml:"healthCheckPath"`
			Disk                      *struct {
				Name      string
				MountPath string `yaml:"mountPath"`
				SizeGB    int    `yaml:"sizeGB"`
			}
			EnvVars []struct {
				Key   string
				Value *string
				Sync  *bool
			} `yaml:"envVars"`
		}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&bp); err != nil {
		t.Fatalf("render.yaml: %v", err)
	}
	if len(bp.Services) != 1 {
		t.Fatalf("want one service, got %d", len(bp.Services))
	}
	s, c := bp.Services[0], imageContract
	if s.Type != "web" || s.Runtime != "image" || s.Image.URL != c.image {
		t.Errorf("service = %s/%s %q, want web/image %q", s.Type, s.Runtime, s.Image.URL, c.image)
	}
	if s.HealthCheckPath != c.healthPath {
		t.Errorf("healthCheckPath = %q, want %q", s.HealthCheckPath, c.healthPath)
	}
	if s.Disk == nil || s.Disk.MountPath != c.home || s.Disk.SizeGB < 1 {
		t.Errorf("disk = %+v, want one at %s", s.Disk, c.home)
	}
	env := map[string]int{}
	for i, e := range s.EnvVars {
		env[e.Key] = i
	}
	if i, ok := env["PORT"]; !ok || s.EnvVars[i].Value == nil || *s.EnvVars[i].Value != strconv.Itoa(c.port) {
		t.Errorf("PORT is not %d: Render routes to $PORT", c.port)
	}
	for _, k := range firstAdminSecrets {
		i, ok := env[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		if e := s.EnvVars[i]; e.Value != nil || e.Sync == nil || *e.Sync {
			t.Errorf("%s must be a secret (sync: false, no value): %+v", k, e)
		}
	}
}
