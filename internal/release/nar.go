package release

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// NARHash returns the SHA-256 of the Nix archive (NAR) serialisation of the
// file tree at path: what `nix-hash --type sha256 <path>` prints in hex and
// what a fixed-output derivation's recursive hash (buildGoModule's
// vendorHash) is computed from. Nothing but names, contents, the
// executable bit and symlink targets enters the hash.
func NARHash(path string) ([]byte, error) {
	h := sha256.New()
	w := &narWriter{w: h}
	w.str("nix-archive-1")
	if err := w.node(path); err != nil {
		return nil, fmt.Errorf("serialising %s as a NAR: %w", path, err)
	}
	if w.err != nil {
		return nil, w.err
	}
	return h.Sum(nil), nil
}

// SRI renders a SHA-256 digest as a subresource-integrity string, the form
// Nix uses for hashes ("sha256-<base64>").
func SRI(sum []byte) string { return "sha256-" + base64.StdEncoding.EncodeToString(sum) }

// narWriter writes the NAR grammar: every token is a length-prefixed
// string padded to 8 bytes. The first write error sticks.
type narWriter struct {
	w   io.Writer
	err error
}

func (n *narWriter) bytes(b []byte) {
	if n.err != nil {
		return
	}
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(len(b)))
	if _, n.err = n.w.Write(size[:]); n.err != nil {
		return
	}
	if _, n.err = n.w.Write(b); n.err != nil {
		return
	}
	if pad := (8 - len(b)%8) % 8; pad > 0 {
		_, n.err = n.w.Write(make([]byte, pad))
	}
}

func (n *narWriter) str(ss ...string) {
	for _, s := range ss {
		n.bytes([]byte(s))
	}
}

func (n *narWriter) node(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	n.str("(", "type")
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		n.str("symlink", "target", target)
	case fi.IsDir():
		n.str("directory")
		ents, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name()
		}
		sort.Strings(names) // byte order, as Nix sorts
		for _, name := range names {
			n.str("entry", "(", "name", name, "node")
			if err := n.node(filepath.Join(p, name)); err != nil {
				return err
			}
			n.str(")")
		}
	case fi.Mode().IsRegular():
		n.str("regular")
		if fi.Mode()&0o100 != 0 {
			n.str("executable", "")
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n.str("contents")
		n.bytes(data)
	default:
		return fmt.Errorf("%s is neither a file, a directory nor a symlink", p)
	}
	n.str(")")
	return nil
}
