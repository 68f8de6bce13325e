package release

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/atomicfile"
)

// ErrChecksumMismatch means a pinned download (or its cached copy) is not
// the file its checksum names.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// pinnedFile is a third-party file the image is built from, fixed by URL and
// checksum: the build never takes whatever a registry serves today.
type pinnedFile struct {
	// URL is where the file is downloaded from.
	URL string
	// Integrity is "sha512-<base64>" (npm's dist.integrity) or
	// "sha256-<hex>" (a Debian Packages index's SHA256).
	Integrity string
	// MaxSize caps the download.
	MaxSize int64
}

// hasher returns the hash function and the expected digest of the pin.
func (p pinnedFile) hasher() (hash.Hash, []byte, error) {
	alg, sum, ok := strings.Cut(p.Integrity, "-")
	if !ok {
		return nil, nil, fmt.Errorf("pin of %s: integrity %q is not <alg>-<digest>", p.URL, p.Integrity)
	}
	switch alg {
	case "sha512":
		want, err := base64.StdEncoding.DecodeString(sum)
		if err != nil || len(want) != sha512.Size {
			return nil, nil, fmt.Errorf("pin of %s: bad sha512 %q", p.URL, sum)
		}
		return sha512.New(), want, nil
	case "sha256":
		want, err := hex.DecodeString(sum)
		if err != nil || len(want) != sha256.Size {
			return nil, nil, fmt.Errorf("pin of %s: bad sha256 %q", p.URL, sum)
		}
		return sha256.New(), want, nil
	}
	return nil, nil, fmt.Errorf("pin of %s: unknown hash %q", p.URL, alg)
}

// cacheName is the file's name in the cache: its checksum, so a changed
// pin never reads a stale file and two pins never collide.
func (p pinnedFile) cacheName() string {
	_, want, err := p.hasher()
	if err != nil {
		return ""
	}
	return strings.SplitN(p.Integrity, "-", 2)[0] + "-" + hex.EncodeToString(want) + "-" + filepath.Base(p.URL)
}

// verify checks data against the pin in constant time.
func (p pinnedFile) verify(data []byte) error {
	h, want, err := p.hasher()
	if err != nil {
		return err
	}
	h.Write(data)
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return fmt.Errorf("%s: %w (want %s)", p.URL, ErrChecksumMismatch, p.Integrity)
	}
	return nil
}

// DefaultCacheDir is where pinned downloads are kept between builds:
// <user cache dir>/parachute-dist, else a directory under the temp dir.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "parachute-dist")
	}
	return filepath.Join(os.TempDir(), "parachute-dist-cache")
}

// fetchPinned returns the pinned file's bytes, from cacheDir when a copy
// is there, else downloaded (and then cached). The checksum is verified
// every time, cached or not; a mismatch is an error, never a re-download,
// so a tampered cache or registry stops the build instead of being papered
// over.
func fetchPinned(client *http.Client, cacheDir string, p pinnedFile) ([]byte, error) {
	name := p.cacheName()
	if name == "" {
		_, _, err := p.hasher()
		return nil, err
	}
	cached := filepath.Join(cacheDir, name)
	if data, err := os.ReadFile(cached); err == nil {
		if err := p.verify(data); err != nil {
			return nil, fmt.Errorf("cached copy %s: %w; delete it and run the build again", cached, err)
		}
		return data, nil
	}
	data, err := download(client, p)
	if err != nil {
		return nil, err
	}
	if err := p.verify(data); err != nil {
		return nil, fmt.Errorf("downloading: %w; the pin in internal/release/bunlayer.go or the server is wrong", err)
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the download cache: %w", err)
	}
	// Atomically: a build killed mid-write must not leave a torn file
	// that every later build rejects.
	if err := atomicfile.WriteFile(cached, data, 0o644); err != nil {
		return nil, fmt.Errorf("caching %s: %w", p.URL, err)
	}
	return data, nil
}

func download(client *http.Client, p pinnedFile) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	resp, err := client.Get(p.URL)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		// Debian drops a superseded point release's .deb from the pool.
		return nil, fmt.Errorf("downloading %s: %s: the pinned file is gone from the server; "+
			"bump its version and checksum in internal/release/bunlayer.go", p.URL, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading %s: %s", p.URL, resp.Status)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, p.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", p.URL, err)
	}
	if n > p.MaxSize {
		return nil, fmt.Errorf("downloading %s: larger than %d bytes", p.URL, p.MaxSize)
	}
	return buf.Bytes(), nil
}
