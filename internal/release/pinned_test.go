package release

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ulikunitz/xz"
)

// TestFetchPinned is a sequence over one cache: a wrong download is
// refused and not cached; the right one is cached; the cache is then used
// without the network; a tampered cached copy is a hard error, never
// silently downloaded again.
func TestFetchPinned(t *testing.T) {
	good := []byte("the real bun")
	var served atomic.Value
	served.Store(good)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(served.Load().([]byte))
	}))
	defer srv.Close()
	sum := sha512.Sum512(good)
	pin := pinnedFile{URL: srv.URL + "/bun.tgz", Integrity: "sha512-" + base64.StdEncoding.EncodeToString(sum[:]), MaxSize: 1 << 10}
	cache := t.TempDir()

	served.Store([]byte("an impostor"))
	if _, err := fetchPinned(srv.Client(), cache, pin); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("wrong download: err = %v, want ErrChecksumMismatch", err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Fatalf("a rejected download was cached: %v", ents)
	}

	served.Store(good)
	got, err := fetchPinned(srv.Client(), cache, pin)
	if err != nil || !bytes.Equal(got, good) {
		t.Fatalf("good download = %q, %v", got, err)
	}
	cached := filepath.Join(cache, pin.cacheName())
	if fi, err := os.Stat(cached); err != nil || fi.Size() != int64(len(good)) {
		t.Fatalf("not cached at %s: %v", cached, err)
	}

	before := hits.Load()
	if got, err := fetchPinned(srv.Client(), cache, pin); err != nil || !bytes.Equal(got, good) {
		t.Fatalf("cached read = %q, %v", got, err)
	}
	if hits.Load() != before {
		t.Error("a cached file was downloaded again")
	}

	if err := os.WriteFile(cached, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fetchPinned(srv.Client(), cache, pin); !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("tampered cache: err = %v, want ErrChecksumMismatch", err)
	}
	if hits.Load() != before {
		t.Error("a tampered cache was papered over by a download")
	}

	gone := pin
	gone.Integrity = "sha256-" + strings.Repeat("ab", 32)
	srvGone := httptest.NewServer(http.NotFoundHandler())
	defer srvGone.Close()
	gone.URL = srvGone.URL + "/libc6.deb"
	if _, err := fetchPinned(srvGone.Client(), t.TempDir(), gone); err == nil || !strings.Contains(err.Error(), "bump its version") {
		t.Errorf("a 404 says %v, want a hint to bump the pin", err)
	}

	big := pin
	big.MaxSize = 4
	big.URL += "?big"
	if _, err := fetchPinned(srv.Client(), t.TempDir(), big); err == nil {
		t.Error("a download over MaxSize was accepted")
	}
}

// TestPinsAreWellFormed: every pin parses, and its cache name is unique.
func TestPinsAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for arch, rt := range bunRuntimes {
		for _, p := range []pinnedFile{rt.bun, rt.libc6} {
			if _, _, err := p.hasher(); err != nil {
				t.Errorf("%s: %v", arch, err)
			}
			n := p.cacheName()
			if n == "" || seen[n] {
				t.Errorf("%s: cache name %q empty or shared", arch, n)
			}
			seen[n] = true
		}
	}
	for _, bad := range []string{"", "md5-abc", "sha256-zz", "sha512-!!"} {
		if _, _, err := (pinnedFile{Integrity: bad}).hasher(); err == nil {
			t.Errorf("integrity %q accepted", bad)
		}
	}
}

// testDeb builds a .deb-shaped ar archive whose data.tar.xz holds files.
func testDeb(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		tw.Write([]byte(c))
	}
	tw.Close()
	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(tarBuf.Bytes())
	xw.Close()
	var deb bytes.Buffer
	deb.WriteString("!<arch>\n")
	member := func(name string, body []byte) {
		fmt.Fprintf(&deb, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", name, "0", "0", "0", "100644", len(body))
		deb.Write(body)
		if len(body)%2 == 1 {
			deb.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.xz", []byte("x"))
	member("data.tar.xz", xzBuf.Bytes())
	return deb.Bytes()
}

func TestFilesFromDeb(t *testing.T) {
	deb := testDeb(t, map[string]string{"./lib/x/libc.so.6": "libc", "./lib/x/other": "no"})
	got, err := filesFromDeb(deb, map[string]bool{"./lib/x/libc.so.6": true})
	if err != nil || string(got["./lib/x/libc.so.6"]) != "libc" || len(got) != 1 {
		t.Fatalf("filesFromDeb = %q, %v", got, err)
	}
	if _, err := filesFromDeb(deb, map[string]bool{"./lib/x/missing": true}); err == nil {
		t.Error("a missing file was not reported")
	}
	if _, err := filesFromDeb([]byte("not a deb"), nil); err == nil {
		t.Error("garbage accepted as a .deb")
	}
}

// FuzzFilesFromDeb: the .deb parser must not panic or over-read on any
// input (the bytes are checksummed first, but a pin bump reads whatever
// the new file holds).
func FuzzFilesFromDeb(f *testing.F) {
	f.Add(testDeb(f, map[string]string{"./a": "b"}))
	f.Add([]byte("!<arch>\n"))
	f.Add([]byte("!<arch>\ndata.tar.xz     0           0     0     100644  99999999  `\n"))
	f.Add([]byte("!<arch>\nodd             0           0     0     100644  1         `\nx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		filesFromDeb(data, map[string]bool{"./a": true})
	})
}

// TestCacheNameIsTheChecksum: the cache is keyed by checksum, so a new pin
// never reads an old file.
func TestCacheNameIsTheChecksum(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	p := pinnedFile{URL: "https://example.org/libc6_1_amd64.deb", Integrity: "sha256-" + hex.EncodeToString(sum[:])}
	if want := "sha256-" + hex.EncodeToString(sum[:]) + "-libc6_1_amd64.deb"; p.cacheName() != want {
		t.Errorf("cacheName = %q, want %q", p.cacheName(), want)
	}
}

// TestBunLayerHasBunsLibraries reads the pinned bun's ELF header for the
// host's architecture: its program interpreter and every library it needs
// must be in the layer, so a bump of either pin that needs one more
// library (libgcc_s, libstdc++) fails here rather than in a container.
func TestBunLayerHasBunsLibraries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not downloading bun")
	}
	entries, err := bunEntries(nil, DefaultCacheDir(), hostTarget.Arch)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]tarEntry{}
	for _, e := range entries {
		have["/"+e.Name] = e
	}
	rt := bunRuntimes[hostTarget.Arch]
	bun, ok := have[ImageBunDir+"/bun"]
	if !ok {
		t.Fatal("no bun in the layer")
	}
	f, err := elf.NewFile(bytes.NewReader(bun.Data))
	if err != nil {
		t.Fatal(err)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if e, ok := have[interp]; !ok || e.Link != rt.loaderLink {
		t.Errorf("bun's interpreter %s is not the layer's loader link %s -> %s", interp, rt.loader, rt.loaderLink)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if _, ok := have["/"+rt.libDir+"/"+l]; !ok {
			t.Errorf("bun needs %s, which the layer lacks in /%s", l, rt.libDir)
		}
	}
}
