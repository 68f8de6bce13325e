package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// tarEntry is one member of a deterministic tar stream.
type tarEntry struct {
	Name     string // slash-separated, relative ("usr/bin/parachute"), dirs without a trailing slash
	Dir      bool
	Mode     int64
	UID, GID int
	Data     []byte
	// Link, when set, makes the entry a symbolic link to Link.
	Link string
}

// writeTar writes entries in order with fixed owner names, the given mtime
// and no access or change times, so the stream depends only on its inputs.
func writeTar(w io.Writer, entries []tarEntry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.Name,
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
			// USTAR carries everything here; an open format would let
			// tar add PAX records (sub-second times) that differ between
			// machines.
			Format: tar.FormatUSTAR,
		}
		switch {
		case e.Dir:
			h.Typeflag, h.Name = tar.TypeDir, e.Name+"/"
		case e.Link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing the tar header of %s: %w", e.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Data); err != nil {
				return fmt.Errorf("writing %s into the tar: %w", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing the tar: %w", err)
	}
	return nil
}

// writeTarGz writes a gzip-compressed deterministic tar to path. The gzip
// header carries no name and no time.
func writeTarGz(p string, entries []tarEntry, mtime time.Time) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("starting gzip: %w", err)
	}
	if err := writeTar(zw, entries, mtime); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("closing gzip: %w", err)
	}
	return writeFile(p, buf.Bytes(), 0o644)
}

// ArchiveName is the name of the tarball of one target:
// parachute_<ver>_<os>_<arch>.tar.gz (the Homebrew formula downloads it).
func ArchiveName(s Stamp, t Target) string {
	return fmt.Sprintf("%s_%s_%s_%s.tar.gz", Name, s.Version, t.OS, t.Arch)
}

// archiveCompletions are the completion scripts of the tarball, at the
// paths the Homebrew formula installs them from.
var archiveCompletions = []struct{ src, dst string }{
	{"packaging/completions/parachute.bash", "completions/parachute.bash"},
	{"packaging/completions/_parachute", "completions/_parachute"},
	{"packaging/completions/parachute.fish", "completions/parachute.fish"},
}

// BuildArchive writes the tarball of one target: the binary at the top and
// the shell completions under completions/.
func BuildArchive(root, binary string, s Stamp, out string) error {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("reading the binary: %w", err)
	}
	entries := []tarEntry{{Name: "parachute", Mode: 0o755, Data: bin}, {Name: "completions", Dir: true, Mode: 0o755}}
	for _, c := range archiveCompletions {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(c.src)))
		if err != nil {
			return fmt.Errorf("reading a completion script: %w", err)
		}
		entries = append(entries, tarEntry{Name: c.dst, Mode: 0o644, Data: data})
	}
	return writeTarGz(out, entries, s.Time)
}

// WriteChecksums writes SHA256SUMS in dir: one "<sha256>  <path>" line per
// regular file under dir (sorted, slash-separated, relative), in the format
// `sha256sum -c` reads. The OCI layout is covered by its index.json, which
// names every other blob by digest; the blobs themselves are left out.
func WriteChecksums(dir string) (map[string]string, error) {
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "oci/blobs" {
				return fs.SkipDir
			}
			return nil
		}
		if rel == ChecksumsFile || !d.Type().IsRegular() {
			return nil
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return err
		}
		sums[rel] = sum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", dir, err)
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return sums, writeFile(filepath.Join(dir, ChecksumsFile), []byte(b.String()), 0o644)
}

// ChecksumsFile is the name of the checksum list in dist/.
const ChecksumsFile = "SHA256SUMS"

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
