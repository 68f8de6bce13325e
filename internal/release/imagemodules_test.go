package release

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/testenv"
)

// bunModuleJS is the test module, run as first-party modules are: a
// package bin with a "#!/usr/bin/env bun" line, which bun links into
// $BUN_INSTALL/bin (on the hub's PATH). It is a Bun HTTP server on $PORT answering
// <anything>/health and <anything>/hello. At start it leaves an orphan
// behind, as a double-forking module would: a middle bun process spawns a
// detached grandchild and exits at once, and the grandchild records its
// pid in $TMPDIR/orphan.pid and exits. Nobody but PID 1 waits for it.
const bunModuleJS = `#!/usr/bin/env bun
const { spawn } = require("node:child_process");
const orphan = "require('node:fs').writeFileSync(process.env.TMPDIR + '/orphan.pid', String(process.pid))";
const middle = "require('node:child_process').spawn(process.execPath, ['-e', " + JSON.stringify(orphan) + "], {detached: true, stdio: 'ignore'}).unref()";
spawn(process.execPath, ["-e", middle], { stdio: "ignore" });
Bun.serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  fetch(req) {
    const p = new URL(req.url).pathname;
    if (p.endsWith("/health")) return Response.json({ status: "ok" });
    if (p.endsWith("/hello")) return new Response("hello from bun " + Bun.version);
    return new Response("not found", { status: 404 });
  },
});
`

// bunModuleTgz writes an npm-style tarball (members under package/) of a
// bun module named short, registered on port.
func bunModuleTgz(t *testing.T, short string, port int) []byte {
	t.Helper()
	bin := "parachute-" + short
	pkg, _ := json.Marshal(map[string]any{"name": bin, "version": "1.0.0", "bin": map[string]string{bin: "server.js"}})
	mod, _ := json.Marshal(map[string]any{"name": short, "port": port, "paths": []string{"/" + short},
		"health": "/" + short + "/health", "startCmd": []string{bin, "serve"}})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := writeTar(zw, []tarEntry{
		{Name: "package/package.json", Mode: 0o644, Data: pkg},
		{Name: "package/server.js", Mode: 0o755, Data: []byte(bunModuleJS)},
		{Name: "package/.parachute/module.json", Mode: 0o644, Data: mod},
	}, testStamp.Time); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// container is one `runc run` of the image in the foreground, so its exit
// status is the container's (the hub's, through the reaper).
type container struct {
	id, runc string
	cmd      *exec.Cmd
	log      string
	port     int
}

// startContainer unpacks the image into a fresh bundle (a redeploy gets a
// new root file system; only the volume persists) and runs it with the
// hub on port (the container shares the host's network).
func startContainer(t *testing.T, umoci, runc, vol, id string, port int) *container {
	t.Helper()
	res := sharedDist(t)
	bundle := filepath.Join(t.TempDir(), "bundle")
	run(t, umoci, "unpack", "--image", res.ImageDir+":"+ImageRef(testStamp, hostTarget), bundle)
	c := &container{id: id, runc: runc, port: port, log: filepath.Join(t.TempDir(), "container.log")}
	editBundle(t, filepath.Join(bundle, "config.json"), vol, c.port)
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	c.cmd = exec.Command(runc, "run", "--bundle", bundle, id)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("runc run: %v", err)
	}
	t.Cleanup(func() {
		exec.Command(runc, "kill", id, "KILL").Run()
		c.cmd.Wait()
		exec.Command(runc, "delete", "--force", id).Run()
	})
	waitFor(t, "/health from the container", 30*time.Second, func() error {
		_, err := c.get("/health", "")
		return err
	})
	return c
}

func (c *container) logText() string { b, _ := os.ReadFile(c.log); return string(b) }

// get GETs path from the hub in the container and returns a 200's body.
func (c *container) get(path, token string) ([]byte, error) {
	return c.do(http.MethodGet, path, token, nil)
}

func (c *container) do(method, path, token string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", c.port, path), rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, out)
	}
	return out, nil
}

// moduleRunning waits until the hub reports short running and ready, and
// its /hello answers through the hub's proxy.
func (c *container) moduleRunning(t *testing.T, token, short string) {
	t.Helper()
	waitFor(t, short+" running and proxied", 60*time.Second, func() error {
		b, err := c.get("/api/modules", token)
		if err != nil {
			return err
		}
		var mr api.ModulesResponse
		if err := json.Unmarshal(b, &mr); err != nil {
			return err
		}
		for _, m := range mr.Modules {
			if m.Short != short {
				continue
			}
			if m.SupervisorStatus == nil || *m.SupervisorStatus != "running" || !m.Ready {
				return fmt.Errorf("%s: %+v", short, m)
			}
			hello, err := c.get("/"+short+"/hello", "")
			if err != nil {
				return err
			}
			if !strings.HasPrefix(string(hello), "hello from bun "+BunVersion) {
				return fmt.Errorf("/%s/hello = %q", short, hello)
			}
			return nil
		}
		return fmt.Errorf("%s not listed: %s", short, b)
	})
}

// stop sends SIGTERM (the image's stop signal) and returns the exit code
// of `runc run`, which is the container's.
func (c *container) stop(t *testing.T) int {
	t.Helper()
	run(t, c.runc, "kill", c.id, "TERM")
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("runc run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the hub did not stop on SIGTERM within 30 s\n%s", c.logText())
	}
	// A foreground `runc run` deletes its container when it ends.
	return 0
}

// TestImageRunsBunModules runs the image with runc as Fly would (a
// 65532-owned volume at /parachute, no init of its own), installs a bun
// module from a local tarball through the hub's module API with the
// operator token from the volume, and sees it supervised and proxied; a
// grandchild the module orphans is reaped (no zombie in the container's
// PID namespace); SIGTERM stops the hub with exit 0; and a new container
// on the same volume brings the installed module back up.
func TestImageRunsBunModules(t *testing.T) {
	umoci := need(t, "umoci", "umoci")
	runc := need(t, "runc", "runc")
	testenv.NeedRoot(t, "runc runs containers as root")

	vol := t.TempDir()
	if err := os.Chown(vol, ImageUID, ImageUID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o750); err != nil {
		t.Fatal(err)
	}
	const short = "bunmod"
	modPort := freePort(t)
	tgz := filepath.Join(vol, "parachute-bunmod-1.0.0.tgz")
	if err := os.WriteFile(tgz, bunModuleTgz(t, short, modPort), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tgz, ImageUID, ImageUID); err != nil {
		t.Fatal(err)
	}

	id := fmt.Sprintf("parachute-mod-test-%d", os.Getpid())
	hubPort := freePort(t)
	c := startContainer(t, umoci, runc, vol, id, hubPort)
	token, err := os.ReadFile(filepath.Join(vol, "operator.token"))
	if err != nil {
		t.Fatalf("no operator token in the volume: %v\n%s", err, c.logText())
	}
	tok := strings.TrimSpace(string(token))

	b, err := c.do(http.MethodPost, "/api/modules/"+short+"/install", tok,
		api.InstallBody{Source: ImageHome + "/" + filepath.Base(tgz)})
	if err != nil {
		t.Fatalf("install: %v\n%s", err, c.logText())
	}
	var acc api.OperationAccepted
	if err := json.Unmarshal(b, &acc); err != nil || acc.OperationID == "" {
		t.Fatalf("install answer %s: %v", b, err)
	}
	var op api.Operation
	waitFor(t, "the install operation", 120*time.Second, func() error {
		b, err := c.get("/api/modules/operations/"+acc.OperationID, tok)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &op); err != nil {
			return err
		}
		if op.Status == api.OpSucceeded || op.Status == api.OpFailed {
			return nil
		}
		return fmt.Errorf("status %s", op.Status)
	})
	if op.Status != api.OpSucceeded {
		t.Fatalf("install %s: %s\n%s\ncontainer log:\n%s", op.Status, op.Error, strings.Join(op.Log, "\n"), c.logText())
	}
	// bun installed it on the volume, under BUN_INSTALL.
	pkgDir := filepath.Join(vol, "modules", "install", "global", "node_modules", "parachute-"+short)
	if _, err := os.Stat(filepath.Join(pkgDir, ".parachute", "module.json")); err != nil {
		t.Fatalf("module not under BUN_INSTALL on the volume: %v\n%s", err, strings.Join(op.Log, "\n"))
	}
	c.moduleRunning(t, tok, short)
	noZombie(t, c, filepath.Join(vol, "tmp", "orphan.pid"))

	// The image's HEALTHCHECK command, run the way a runtime runs it:
	// inside the container, with the image's environment.
	hc := exec.Command(runc, "exec", c.id, ImageBinary, "health", "--timeout", "4s")
	if out, err := hc.CombinedOutput(); err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), ": ok") {
		t.Errorf("HEALTHCHECK `parachute health` in the container: %v\n%s", err, out)
	}

	if code := c.stop(t); code != 0 {
		t.Fatalf("the hub exited %d on SIGTERM, want 0\n%s", code, c.logText())
	}

	// A redeploy: a new container from a fresh unpack, the same volume
	// and port (the operator token is bound to the hub's origin, which a
	// platform keeps across deploys).
	os.Remove(filepath.Join(vol, "tmp", "orphan.pid"))
	c2 := startContainer(t, umoci, runc, vol, id+"-2", hubPort)
	c2.moduleRunning(t, tok, short)
	if code := c2.stop(t); code != 0 {
		t.Fatalf("the second hub exited %d on SIGTERM, want 0\n%s", code, c2.logText())
	}
}

// noZombie waits for the orphan to record its pid (in the container's PID
// namespace) and then for that process to be gone from the container: it
// exits at once, so it only lingers if nothing reaps it (a zombie keeps
// its /proc entry, state Z).
func noZombie(t *testing.T, c *container, pidFile string) {
	t.Helper()
	var nsPid string
	waitFor(t, "the orphan to record its pid", 30*time.Second, func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil || len(b) == 0 {
			return fmt.Errorf("no %s yet: %v", pidFile, err)
		}
		nsPid = strings.TrimSpace(string(b))
		return nil
	})
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(run(t, c.runc, "state", c.id)), &st); err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the orphan "+nsPid+" to be reaped", 10*time.Second, func() error {
		if p, state := inNamespace(ns, nsPid); p != 0 {
			return fmt.Errorf("host pid %d (container pid %s) is still there, state %s", p, nsPid, state)
		}
		return nil
	})
}

// inNamespace finds the process whose pid in the namespace ns is nsPid and
// returns its host pid and state, or 0.
func inNamespace(ns, nsPid string) (int, string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p)); err != nil || l != ns {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		var state string
		for _, line := range strings.Split(string(status), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && f[0] == "State:" {
				state = f[1]
			}
			if len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] == nsPid {
				return p, state
			}
		}
	}
	return 0, ""
}
