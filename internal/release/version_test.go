package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
)

func TestVersionFromDescribe(t *testing.T) {
	commit := "93f574b1a2c3d4e5f60718293a4b5c6d7e8f9012"
	at := time.Date(2026, 11, 26, 5, 41, 0, 0, time.UTC)
	tests := []struct {
		name, desc, want string
	}{
		{"untagged", "", "0.0.0-20261126054100-93f574b1a2c3"},
		{"on a tag", "v1.2.3-0-g93f574b", "1.2.3"},
		{"after a tag", "v1.2.3-4-g93f574b", "1.2.4-0.20261126054100-93f574b1a2c3"},
		{"on a pre-release tag", "v2.0.0-rc.1-0-g93f574b", "2.0.0-rc.1"},
		{"after a pre-release tag", "v2.0.0-rc.1-3-g93f574b", "2.0.0-rc.1.0.20261126054100-93f574b1a2c3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := versionFromDescribe(tt.desc, commit, at)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("version = %q, want %q", got, tt.want)
			}
			if _, err := semver.StrictNewVersion(got); err != nil {
				t.Errorf("%q is not strict semver: %v", got, err)
			}
		})
	}
	t.Run("pseudo-versions sort between their tags", func(t *testing.T) {
		after, _ := versionFromDescribe("v1.2.3-4-g93f574b", commit, at)
		order := []string{"1.2.3", after, "1.2.4"}
		for i := 0; i+1 < len(order); i++ {
			a, b := semver.MustParse(order[i]), semver.MustParse(order[i+1])
			if !a.LessThan(b) {
				t.Errorf("%s does not sort before %s", a, b)
			}
		}
	})
	t.Run("garbage", func(t *testing.T) {
		if _, err := versionFromDescribe("vX-1-gabc", commit, at); err == nil {
			t.Error("accepted a tag that is not a version")
		}
	})
}

// TestStampFromGit derives stamps from a real repository: untagged, tagged,
// after a tag, and with SOURCE_DATE_EPOCH overriding the commit time.
func TestStampFromGit(t *testing.T) {
	need(t, "git", "git")
	dir := t.TempDir()
	gitIn := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commitAt := func(epoch string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(epoch), 0o644); err != nil {
			t.Fatal(err)
		}
		gitIn(nil, "add", "f")
		date := "GIT_COMMITTER_DATE=@" + epoch + " +0000"
		gitIn([]string{date, "GIT_AUTHOR_DATE=@" + epoch + " +0000"}, "commit", "-q", "-m", "c"+epoch)
	}
	gitIn(nil, "init", "-q")
	gitIn(nil, "config", "user.email", "t@example.com")
	gitIn(nil, "config", "user.name", "t")
	gitIn(nil, "config", "commit.gpgsign", "false")
	ctx := context.Background()
	stamp := func() Stamp {
		t.Helper()
		s, err := StampFromGit(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")

	commitAt("1764100000")
	s := stamp()
	head := s.Commit
	want := Stamp{Version: "0.0.0-" + time.Unix(1764100000, 0).UTC().Format("20060102150405") + "-" + head[:12],
		Commit: head, Time: time.Unix(1764100000, 0).UTC()}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("untagged stamp (-want +got):\n%s", diff)
	}

	gitIn(nil, "tag", "v0.7.0")
	if got := stamp().Version; got != "0.7.0" {
		t.Errorf("tagged version = %q, want 0.7.0", got)
	}

	commitAt("1764200000")
	s = stamp()
	if want := "0.7.1-0." + time.Unix(1764200000, 0).UTC().Format("20060102150405") + "-" + s.Commit[:12]; s.Version != want {
		t.Errorf("version after the tag = %q, want %q", s.Version, want)
	}
	if s.Date() != "2025-11-26T23:33:20Z" {
		t.Errorf("date = %q, want the commit time", s.Date())
	}

	if dirty, err := Dirty(ctx, dir); err != nil || dirty {
		t.Errorf("Dirty = %v, %v on a clean tree", dirty, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dirty, err := Dirty(ctx, dir); err != nil || !dirty {
		t.Errorf("Dirty = %v, %v after an edit", dirty, err)
	}

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if got := stamp().Time; !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("time = %v, want SOURCE_DATE_EPOCH", got)
	}
}
