package logsink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRotatingFile(t *testing.T) {
	tests := []struct {
		name   string
		max    int64
		files  int
		writes []string
		want   map[string]string // file name → content
	}{
		{
			name: "fits", max: 100, files: 3,
			writes: []string{"a\n", "b\n"},
			want:   map[string]string{"x.log": "a\nb\n"},
		},
		{
			name: "rotates at line boundary inside one write", max: 6, files: 3,
			writes: []string{"aa\nbb\ncc\n"},
			want:   map[string]string{"x.log.1": "aa\nbb\n", "x.log": "cc\n"},
		},
		{
			name: "keeps only Files files", max: 3, files: 2,
			writes: []string{"1\n", "2\n", "3\n"},
			want:   map[string]string{"x.log.1": "2\n", "x.log": "3\n"},
		},
		{
			name: "oversize line alone", max: 4, files: 3,
			writes: []string{"a\n", "toolong\n", "b\n"},
			want:   map[string]string{"x.log.2": "a\n", "x.log.1": "toolong\n", "x.log": "b\n"},
		},
		{
			name: "one file truncates", max: 4, files: 1,
			writes: []string{"ab\n", "cd\n"},
			want:   map[string]string{"x.log": "cd\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := NewRotatingFile(filepath.Join(dir, "x.log"), tc.max, tc.files)
			for _, w := range tc.writes {
				if n, err := r.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				got[e.Name()] = string(b)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRotatingFileAppendsAcrossOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	for _, w := range []string{"one\n", "two\n"} {
		r := NewRotatingFile(path, 7, 2)
		r.Write([]byte(w))
		r.Close()
	}
	// The second hub saw the first file's size and rotated before writing.
	a, _ := os.ReadFile(path + ".1")
	b, _ := os.ReadFile(path)
	if got := strings.Join([]string{string(a), string(b)}, "|"); got != "one\n|two\n" {
		t.Errorf("files = %q, want %q", got, "one\n|two\n")
	}
}

// A log path that is a symlink is refused: the write fails with a message
// naming the link, and the target is neither created nor appended to.
func TestRotatingFileRefusesSymlink(t *testing.T) {
	for _, dangling := range []bool{false, true} {
		t.Run(map[bool]string{false: "to a file", true: "dangling"}[dangling], func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "target")
			if !dangling {
				if err := os.WriteFile(target, []byte("precious\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "x.log")
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			r := NewRotatingFile(path, 100, 3)
			defer r.Close()
			_, err := r.Write([]byte("secret=1\n"))
			if err == nil || !strings.Contains(err.Error(), "symlink") || !strings.Contains(err.Error(), path) {
				t.Fatalf("Write = %v; want a symlink refusal naming %s", err, path)
			}
			b, rerr := os.ReadFile(target)
			if dangling && !os.IsNotExist(rerr) {
				t.Fatalf("the dangling link's target was created: %q, %v", b, rerr)
			}
			if !dangling && string(b) != "precious\n" {
				t.Fatalf("link target now holds %q", b)
			}
		})
	}
}
