package release

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/openparachute/parachute/internal/testenv"
)

// hostImage opens the image of the shared build for the host platform.
func hostImage(t *testing.T) (v1.ImageIndex, v1.Image) {
	t.Helper()
	res := sharedDist(t)
	p, err := layout.FromPath(res.ImageDir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[0].MediaType != types.OCIImageIndex ||
		im.Manifests[0].Annotations[refNameAnnotation] != "1.0.0" {
		t.Fatalf("index.json should name a multi-arch index 1.0.0 first: %+v", im.Manifests)
	}
	if d := im.Manifests[1]; d.MediaType != types.OCIManifestSchema1 || d.Platform == nil ||
		d.Annotations[refNameAnnotation] != "1.0.0-linux-"+hostTarget.Arch {
		t.Fatalf("index.json should name the %s image 1.0.0-linux-%s: %+v", hostTarget, hostTarget.Arch, d)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range inner.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == hostTarget.Arch {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return idx, img
		}
	}
	t.Fatalf("no linux/%s image in %+v", hostTarget.Arch, inner.Manifests)
	return nil, nil
}

// TestImageConfig reads the image back with go-containerregistry: OCI
// media types, the runtime contract (uid 65532, entrypoint, environment,
// volume, port), the commit time everywhere, and the files of its layers.
func TestImageConfig(t *testing.T) {
	_, img := hostImage(t)
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		User: "65532:65532",
		Env: []string{"PATH=/parachute/modules/bin:/usr/local/bin:/usr/bin:/bin", "PARACHUTE_HOME=/parachute",
			"BUN_INSTALL=/parachute/modules", "TMPDIR=/parachute/tmp",
			"PARACHUTE_BIND_HOST=0.0.0.0", "PORT=1939", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Entrypoint:   []string{"/usr/bin/parachute", "serve"},
		WorkingDir:   "/parachute",
		ExposedPorts: map[string]struct{}{"1939/tcp": {}},
		Volumes:      map[string]struct{}{"/parachute": {}},
		StopSignal:   "SIGTERM",
		Labels:       imageAnnotations(testStamp),
		Healthcheck: &v1.HealthConfig{
			Test:     []string{"CMD", "/usr/bin/parachute", "health", "--timeout", "4s"},
			Interval: 30 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
		},
	}
	if diff := cmp.Diff(want, cf.Config); diff != "" {
		t.Errorf("image config (-want +got):\n%s", diff)
	}
	if cf.OS != "linux" || cf.Architecture != hostTarget.Arch || !cf.Created.Time.Equal(testStamp.Time) {
		t.Errorf("config: %s/%s created %v", cf.OS, cf.Architecture, cf.Created)
	}
	for _, h := range cf.History {
		if !h.Created.Time.Equal(testStamp.Time) {
			t.Errorf("history %q created %v", h.CreatedBy, h.Created)
		}
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	files := map[string][]byte{}
	for _, l := range layers {
		if mt, _ := l.MediaType(); mt != types.OCILayer {
			t.Errorf("layer media type %s", mt)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.ModTime.Equal(testStamp.Time) {
				t.Errorf("%s mtime %v", h.Name, h.ModTime)
			}
			entry := fmt.Sprintf("%s %o %d:%d", h.Name, h.Mode, h.Uid, h.Gid)
			if h.Typeflag == tar.TypeSymlink {
				entry += " -> " + h.Linkname
			}
			got = append(got, entry)
			if h.Typeflag == tar.TypeReg && h.Size < 1<<20 {
				files[h.Name], _ = io.ReadAll(tr)
			}
		}
		rc.Close()
	}
	wantFiles := []string{
		"etc/ 755 0:0", "etc/passwd 644 0:0", "etc/group 644 0:0", "etc/ssl/ 755 0:0", "etc/ssl/certs/ 755 0:0",
		"etc/ssl/certs/ca-certificates.crt 644 0:0", "parachute/ 750 65532:65532", "root/ 700 0:0", "tmp/ 1777 0:0",
	}
	rt := bunRuntimes[hostTarget.Arch]
	wantFiles = append(wantFiles, dirNames(rt.libDir)...)
	for _, f := range append([]string{path.Base(rt.loaderLink)}, glibcFiles...) {
		wantFiles = append(wantFiles, rt.libDir+"/"+f+" 755 0:0")
	}
	slices.Sort(wantFiles[len(wantFiles)-len(glibcFiles)-1:])
	if d := path.Dir(rt.loader); d != "lib" {
		wantFiles = append(wantFiles, d+"/ 755 0:0")
	}
	wantFiles = append(wantFiles, rt.loader+" 777 0:0 -> "+rt.loaderLink,
		"usr/ 755 0:0", "usr/local/ 755 0:0", "usr/local/bin/ 755 0:0", "usr/local/bin/bun 755 0:0", "usr/local/bin/node 777 0:0 -> bun",
		"usr/ 755 0:0", "usr/bin/ 755 0:0", "usr/bin/parachute 755 0:0", "usr/bin/env 777 0:0 -> parachute")
	if diff := cmp.Diff(wantFiles, got); diff != "" {
		t.Errorf("image files (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(files["etc/passwd"]), "parachute:x:65532:65532:Parachute hub:/parachute:/sbin/nologin") {
		t.Errorf("passwd lacks the 65532 entry:\n%s", files["etc/passwd"])
	}
	if !strings.Contains(string(files["etc/ssl/certs/ca-certificates.crt"]), "BEGIN CERTIFICATE") {
		t.Error("the CA bundle holds no certificate")
	}
}

// dirNames are the tar names of p's directories, outermost first.
func dirNames(p string) []string {
	var out []string
	for _, e := range dirEntries(p) {
		out = append(out, e.Name+"/ 755 0:0")
	}
	return out
}

// TestImageRuns unpacks the image with umoci and runs it with runc (crun
// refuses this machine's hybrid cgroups): /health answers and the hub is
// uid 65532. The volume is a host directory owned by 65532, as Fly mounts
// it; the container shares the host network so the test can reach it on
// a free port.
func TestImageRuns(t *testing.T) {
	umoci := need(t, "umoci", "umoci")
	runc := need(t, "runc", "runc")
	testenv.NeedRoot(t, "runc runs containers as root")
	res := sharedDist(t)

	bundle := filepath.Join(t.TempDir(), "bundle")
	// By the platform's own name: umoci 0.4 cannot pick from an index.
	run(t, umoci, "unpack", "--image", res.ImageDir+":"+ImageRef(testStamp, hostTarget), bundle)
	vol := t.TempDir()
	if err := os.Chown(vol, ImageUID, ImageUID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o750); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	editBundle(t, filepath.Join(bundle, "config.json"), vol, port)

	id := fmt.Sprintf("parachute-test-%d", os.Getpid())
	logf, err := os.Create(filepath.Join(t.TempDir(), "container.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(runc, "run", "--detach", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		t.Fatalf("runc run: %v", err)
	}
	t.Cleanup(func() {
		exec.Command(runc, "kill", id, "KILL").Run()
		waitFor(t, "the container to stop", 10*time.Second, func() error { return containerStopped(runc, id) })
		if out, err := exec.Command(runc, "delete", "--force", id).CombinedOutput(); err != nil {
			t.Errorf("runc delete: %v\n%s", err, out)
		}
	})
	containerLog := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }

	var body string
	waitFor(t, "/health from the container", 30*time.Second, func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err != nil {
			return fmt.Errorf("%w\n%s", err, containerLog())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	if !strings.Contains(body, `"status": "ok"`) && !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/health = %s", body)
	}

	var state struct{ Pid int }
	if err := json.Unmarshal([]byte(run(t, runc, "state", id)), &state); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", state.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
			if f := strings.Fields(l); len(f) != 5 || f[1] != "65532" || f[2] != "65532" {
				t.Errorf("the hub runs with %s, want 65532", l)
			}
		}
	}
	// The state lands in the volume, owned by the image's user.
	fi, err := os.Stat(filepath.Join(vol, "operator.token"))
	if err != nil {
		t.Fatalf("no operator.token in the volume: %v\n%s", err, containerLog())
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("operator.token mode %v, want 0640", fi.Mode().Perm())
	}

	// As PID 1 the hub still stops on SIGTERM (the runtime's stop signal).
	run(t, runc, "kill", id, "TERM")
	waitFor(t, "the hub to exit on SIGTERM", 20*time.Second, func() error { return containerStopped(runc, id) })
}

// editBundle adapts umoci's runtime config for the test: no terminal, the
// host's network (no network namespace), the hub on port, and the volume
// as a bind mount of vol instead of umoci's root-owned tmpfs.
func editBundle(t *testing.T, path, vol string, port int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	var env []any
	for _, e := range proc["env"].([]any) {
		if !strings.HasPrefix(e.(string), "PORT=") {
			env = append(env, e)
		}
	}
	proc["env"] = append(env, "PORT="+strconv.Itoa(port))
	linux := cfg["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			ns = append(ns, n)
		}
	}
	linux["namespaces"] = ns
	var mounts []any
	for _, m := range cfg["mounts"].([]any) {
		if m.(map[string]any)["destination"] != ImageHome {
			mounts = append(mounts, m)
		}
	}
	cfg["mounts"] = append(mounts, map[string]any{
		"destination": ImageHome, "type": "bind", "source": vol, "options": []string{"rbind", "rw"},
	})
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func containerStopped(runc, id string) error {
	out, err := exec.Command(runc, "state", id).Output()
	if err != nil {
		return nil // gone
	}
	var st struct{ Status string }
	if err := json.Unmarshal(out, &st); err != nil {
		return err
	}
	if st.Status != "stopped" {
		return fmt.Errorf("status %s", st.Status)
	}
	return nil
}

var freePort = testenv.FreePort
