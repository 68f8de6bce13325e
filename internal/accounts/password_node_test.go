package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/testenv"
)

// nodeRsVersion is the @node-rs/argon2 the fixture hashes were made with;
// the reference hub's package.json asks for ^2.0.2.
const nodeRsVersion = "2.2.1"

// nodeCheck reads {ours: [{password, hash}]} on stdin, verifies each of our
// hashes with @node-rs/argon2, and answers {verified: [bool], wrong: [bool],
// theirs: {password, hash}} with a fresh node-rs hash for the Go side.
const nodeCheck = `
const { hash, verify } = require("@node-rs/argon2");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const { ours } = JSON.parse(input);
  const verified = [], wrong = [];
  for (const o of ours) {
    verified.push(await verify(o.hash, o.password));
    wrong.push(await verify(o.hash, o.password + "!"));
  }
  const password = "from node ✓";
  process.stdout.write(JSON.stringify({ verified, wrong, theirs: { password, hash: await hash(password) } }));
});
`

// TestOurHashesVerifyInNodeRs proves the other direction of the fixture
// test: the reference hub (which verifies with @node-rs/argon2) accepts the
// hashes we write. It installs the real package with npm into a temp dir.
func TestOurHashesVerifyInNodeRs(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "needs node: %v", err)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		testenv.Unavailable(t, "needs npm: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir,
		"@node-rs/argon2@"+nodeRsVersion)
	if out, err := install.CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot install @node-rs/argon2 with npm: %v\n%s", err, out)
	}

	ours := []nodeRsHash{}
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd ✓ 日本"} {
		h, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, nodeRsHash{Password: pw, Hash: h})
	}
	in, err := json.Marshal(map[string]any{"ours": ours})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "-e", nodeCheck)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got struct {
		Verified []bool     `json:"verified"`
		Wrong    []bool     `json:"wrong"`
		Theirs   nodeRsHash `json:"theirs"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, o := range ours {
		if i >= len(got.Verified) || !got.Verified[i] {
			t.Errorf("@node-rs/argon2 rejected our hash %s of %q", o.Hash, o.Password)
		}
		if i < len(got.Wrong) && got.Wrong[i] {
			t.Errorf("@node-rs/argon2 accepted a wrong password for our hash %s", o.Hash)
		}
	}
	if ok, err := VerifyPassword(got.Theirs.Hash, got.Theirs.Password); err != nil || !ok {
		t.Errorf("VerifyPassword(fresh node-rs hash %s) = %v, %v", got.Theirs.Hash, ok, err)
	}
}
