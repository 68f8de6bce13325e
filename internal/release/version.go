package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Stamp is what a release is built from: its version, the commit and the
// commit's time. Every timestamp inside every artifact is Time, which is why
// two builds of one commit are byte-identical.
type Stamp struct {
	// Version is a semantic version without a leading "v", e.g. "1.2.0" or
	// "0.0.0-20261126054100-93f574b1a2c3".
	Version string
	// Commit is the full commit hash.
	Commit string
	// Time is SOURCE_DATE_EPOCH: the commit time unless the environment
	// says otherwise.
	Time time.Time
}

// Tag is the git tag of the release, e.g. "v1.2.0".
func (s Stamp) Tag() string { return "v" + s.Version }

// Date is Time as the RFC 3339 UTC string stamped into the binary.
func (s Stamp) Date() string { return s.Time.UTC().Format(time.RFC3339) }

// Validate checks that the stamp can name packages.
func (s Stamp) Validate() error {
	if _, err := semver.StrictNewVersion(s.Version); err != nil {
		return fmt.Errorf("version %q is not a semantic version: %w", s.Version, err)
	}
	if s.Commit == "" {
		return errors.New("commit is empty")
	}
	if s.Time.IsZero() {
		return errors.New("source date is zero")
	}
	return nil
}

// StampFromGit derives the stamp of the commit checked out in dir:
//
//   - Version: the tag when HEAD is tagged vX.Y.Z; after a tag, a Go-style
//     pseudo-version of the next patch release (X.Y.(Z+1)-0.<time>-<sha12>),
//     which sorts after the tag and before the next one; with no tag at all,
//     0.0.0-<time>-<sha12>.
//   - Time: $SOURCE_DATE_EPOCH when set (the reproducible-builds
//     convention), else the commit time (`git log -1 --format=%ct`).
func StampFromGit(ctx context.Context, dir string) (Stamp, error) {
	commit, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return Stamp{}, err
	}
	ct, err := git(ctx, dir, "log", "-1", "--format=%ct")
	if err != nil {
		return Stamp{}, err
	}
	commitTime, err := parseEpoch(ct)
	if err != nil {
		return Stamp{}, fmt.Errorf("reading the commit time: %w", err)
	}
	t := commitTime
	if env := os.Getenv("SOURCE_DATE_EPOCH"); env != "" {
		if t, err = parseEpoch(env); err != nil {
			return Stamp{}, fmt.Errorf("reading SOURCE_DATE_EPOCH: %w", err)
		}
	}
	// A missing tag is not an error: describe fails and we fall back.
	desc, _ := git(ctx, dir, "describe", "--tags", "--long", "--match", "v[0-9]*", "HEAD")
	v, err := versionFromDescribe(desc, commit, commitTime)
	if err != nil {
		return Stamp{}, err
	}
	s := Stamp{Version: v, Commit: commit, Time: t}
	return s, s.Validate()
}

// Dirty reports whether the working tree in dir differs from its commit
// (untracked files that git ignores do not count).
func Dirty(ctx context.Context, dir string) (bool, error) {
	out, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return false, err
	}
	return out != "", nil
}

// versionFromDescribe turns `git describe --tags --long` output
// ("v1.2.3-0-gabc", "v1.2.3-4-gabc" or "") into the release version.
func versionFromDescribe(desc, commit string, commitTime time.Time) (string, error) {
	short := commit
	if len(short) > 12 {
		short = short[:12]
	}
	pseudo := commitTime.UTC().Format("20060102150405") + "-" + short
	if desc == "" {
		return "0.0.0-" + pseudo, nil
	}
	// The tag itself may contain '-' (v1.2.3-rc.1), so split from the right.
	i := strings.LastIndex(desc, "-g")
	j := strings.LastIndex(desc[:max(i, 0)], "-")
	if i < 0 || j < 0 {
		return "", fmt.Errorf("unexpected git describe output %q", desc)
	}
	tag, distance := desc[:j], desc[j+1:i]
	v, err := semver.NewVersion(strings.TrimPrefix(tag, "v"))
	if err != nil {
		return "", fmt.Errorf("tag %q is not a semantic version: %w", tag, err)
	}
	if distance == "0" {
		return v.String(), nil
	}
	if v.Prerelease() != "" {
		// After a pre-release tag the next version is the same one with a
		// pre-release suffix that sorts after it (Go's rule).
		return fmt.Sprintf("%d.%d.%d-%s.0.%s", v.Major(), v.Minor(), v.Patch(), v.Prerelease(), pseudo), nil
	}
	return fmt.Sprintf("%d.%d.%d-0.%s", v.Major(), v.Minor(), v.Patch()+1, pseudo), nil
}

func parseEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing %q as seconds since the epoch: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// git runs git in dir and returns its trimmed stdout.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
