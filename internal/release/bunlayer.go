package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/ulikunitz/xz"
)

// The image runs bun modules, so it carries bun. bun is the npm
// registry's @oven/bun-linux-* build (glibc, not musl: the musl build also
// needs libstdc++ and libgcc_s), and glibc's loader and the four libraries
// bun links (readelf -d: libc, libm, libpthread, libdl) come from Debian's
// libc6 package. Both are pinned by version and checksum; bumping either
// means editing these pins (npm view @oven/bun-linux-x64@<v> dist.integrity;
// apt-cache show libc6 | grep SHA256, per architecture).
const (
	// BunVersion is the bun the image carries.
	BunVersion = "1.4.5"
	// libc6Version is Debian 12's glibc the bun layer takes its loader from.
	libc6Version = "2.36-9+deb12u14"
	// ImageBunDir holds the bun executable in the image (on PATH).
	ImageBunDir = "/usr/local/bin"
	// ImageModules is BUN_INSTALL in the image: on the volume, so modules
	// installed with `bun add -g` survive a redeploy of the image.
	ImageModules = ImageHome + "/modules"
	// ImageTmp is TMPDIR in the image: on the volume, so bun's installs
	// rename within one file system (no EXDEV from a tmpfs /tmp), and the
	// hub creates it 0700 when it starts.
	ImageTmp = ImageHome + "/tmp"
)

// bunRuntime is what one architecture's bun layer is made from.
type bunRuntime struct {
	bun   pinnedFile
	libc6 pinnedFile
	// libDir is glibc's multiarch directory, relative ("lib/x86_64-linux-gnu").
	libDir string
	// loader is the program interpreter bun asks for, relative, and
	// loaderLink what it links to (the file in libDir).
	loader, loaderLink string
}

// bunRuntimes are the pins per GOARCH.
var bunRuntimes = map[string]bunRuntime{
	"amd64": {
		bun: pinnedFile{
			URL:       "https://registry.npmjs.org/@oven/bun-linux-x64/-/bun-linux-x64-" + BunVersion + ".tgz",
			Integrity: "sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==",
			MaxSize:   200 << 20,
		},
		libc6: pinnedFile{
			URL:       "https://deb.debian.org/debian/pool/main/g/glibc/libc6_" + libc6Version + "_amd64.deb",
			Integrity: "sha256-ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf",
			MaxSize:   20 << 20,
		},
		libDir:     "lib/x86_64-linux-gnu",
		loader:     "lib64/ld-linux-x86-64.so.2",
		loaderLink: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	},
	"arm64": {
		bun: pinnedFile{
			URL:       "https://registry.npmjs.org/@oven/bun-linux-aarch64/-/bun-linux-aarch64-" + BunVersion + ".tgz",
			Integrity: "sha512-4BXmsSKnjOrlGWqZV4x/oWa7AVoR+B6lCXddMzOAXBIm3t50eslg9wb66gmtW1AamEQ1l1CDvmmruysEhqOWMg==",
			MaxSize:   200 << 20,
		},
		libc6: pinnedFile{
			URL:       "https://deb.debian.org/debian/pool/main/g/glibc/libc6_" + libc6Version + "_arm64.deb",
			Integrity: "sha256-01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4",
			MaxSize:   20 << 20,
		},
		libDir:     "lib/aarch64-linux-gnu",
		loader:     "lib/ld-linux-aarch64.so.1",
		loaderLink: "aarch64-linux-gnu/ld-linux-aarch64.so.1",
	},
}

// glibcFiles are the files of libc6 the image keeps: the loader and what
// bun links. The rest (gconv, audit libraries, …) would only add weight.
var glibcFiles = []string{"libc.so.6", "libdl.so.2", "libm.so.6", "libpthread.so.0"}

// bunEntries is the bun layer of one architecture: glibc's loader and
// libraries, and bun in ImageBunDir. Every byte comes from the two pinned
// downloads, and the entries are written in a fixed order with the
// stamp's time, so the layer is reproducible.
func bunEntries(client *http.Client, cacheDir, arch string) ([]tarEntry, error) {
	rt, ok := bunRuntimes[arch]
	if !ok {
		return nil, fmt.Errorf("building the bun layer: no bun pinned for %s", arch)
	}
	tgz, err := fetchPinned(client, cacheDir, rt.bun)
	if err != nil {
		return nil, fmt.Errorf("fetching bun: %w", err)
	}
	bun, err := fileFromTarGz(tgz, "package/bin/bun")
	if err != nil {
		return nil, fmt.Errorf("reading bun from %s: %w", rt.bun.URL, err)
	}
	deb, err := fetchPinned(client, cacheDir, rt.libc6)
	if err != nil {
		return nil, fmt.Errorf("fetching glibc: %w", err)
	}
	libDir := "./" + rt.libDir + "/"
	wanted := map[string]bool{libDir + path.Base(rt.loaderLink): true}
	for _, f := range glibcFiles {
		wanted[libDir+f] = true
	}
	libs, err := filesFromDeb(deb, wanted)
	if err != nil {
		return nil, fmt.Errorf("reading glibc from %s: %w", rt.libc6.URL, err)
	}

	entries := dirEntries(rt.libDir)
	names := make([]string, 0, len(libs))
	for n := range libs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		entries = append(entries, tarEntry{Name: strings.TrimPrefix(n, "./"), Mode: 0o755, Data: libs[n]})
	}
	if d := path.Dir(rt.loader); d != "lib" {
		entries = append(entries, tarEntry{Name: d, Dir: true, Mode: 0o755})
	}
	entries = append(entries, tarEntry{Name: rt.loader, Mode: 0o777, Link: rt.loaderLink})
	entries = append(entries, dirEntries(ImageBunDir[1:])...)
	entries = append(entries, tarEntry{Name: ImageBunDir[1:] + "/bun", Mode: 0o755, Data: bun})
	// bun run as "node" behaves as node (what `bun --bun` relies on), so
	// "#!/usr/bin/env node" scripts run too.
	entries = append(entries, tarEntry{Name: ImageBunDir[1:] + "/node", Mode: 0o777, Link: "bun"})
	return entries, nil
}

// dirEntries are the directories of p and its parents, outermost first.
func dirEntries(p string) []tarEntry {
	var out []tarEntry
	parts := strings.Split(p, "/")
	for i := range parts {
		out = append(out, tarEntry{Name: strings.Join(parts[:i+1], "/"), Dir: true, Mode: 0o755})
	}
	return out
}

// fileFromTarGz returns one regular file of a gzip-compressed tar.
func fileFromTarGz(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("opening the gzip stream: %w", err)
	}
	files, err := filesFromTar(zr, map[string]bool{name: true})
	if err != nil {
		return nil, err
	}
	return files[name], nil
}

// filesFromTar reads the wanted regular files of a tar stream and fails
// unless it finds every one.
func filesFromTar(r io.Reader, wanted map[string]bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tar: %w", err)
		}
		if !wanted[h.Name] || h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", h.Name, err)
		}
		out[h.Name] = data
	}
	for n := range wanted {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("no file %s in the archive", n)
		}
	}
	return out, nil
}

// filesFromDeb reads the wanted files of a .deb's data.tar.xz. A .deb is
// an ar archive: "!<arch>\n", then members with 60-byte headers (name 16,
// size at 48..58 in decimal), each padded to an even length.
func filesFromDeb(deb []byte, wanted map[string]bool) (map[string][]byte, error) {
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(deb, []byte(magic)) {
		return nil, errors.New("not a .deb (no ar magic)")
	}
	rest := deb[len(magic):]
	for len(rest) >= 60 {
		hdr := rest[:60]
		name := strings.TrimRight(strings.TrimSpace(string(hdr[:16])), "/")
		var size int
		if _, err := fmt.Sscan(strings.TrimSpace(string(hdr[48:58])), &size); err != nil || size < 0 || size > len(rest)-60 {
			return nil, fmt.Errorf("bad ar member size in %q", hdr)
		}
		body := rest[60 : 60+size]
		if name == "data.tar.xz" {
			xr, err := xz.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("opening data.tar.xz: %w", err)
			}
			return filesFromTar(xr, wanted)
		}
		next := 60 + size + size%2
		if next > len(rest) {
			break
		}
		rest = rest[next:]
	}
	return nil, errors.New("no data.tar.xz in the .deb")
}
