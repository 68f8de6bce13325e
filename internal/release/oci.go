package release

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/openparachute/parachute/internal/config"
)

// The container image's contract: who runs the hub, where its state lives,
// how it is reached.
const (
	// ImageUID is the uid and gid the hub runs as in the image (the
	// distroless "nonroot" number, so volume tooling recognises it).
	ImageUID = 65532
	// ImageHome is the config root and the data volume.
	ImageHome = "/parachute"
	// ImageBinary is where the image holds the binary.
	ImageBinary = "/usr/bin/parachute"
	// ImageRepository is where releases publish the image.
	ImageRepository = "ghcr.io/openparachute/parachute"
	// caBundlePath is the CA bundle copied into the image: the hub and its
	// modules make TLS calls (module registries, tunnels), and the image
	// has no package manager to add one.
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

// ImageEnv is the environment of the image, in order. The image is the one
// place the hub binds all interfaces: a container's loopback is private to
// it, so 127.0.0.1 would make the hub unreachable. Being reachable from the
// network needs no setting of its own: `parachute serve` applies the same
// request deadlines and connection cap on every bind address (internal/hub
// limits.go), the cap follows the container's RLIMIT_NOFILE, and
// PARACHUTE_MAX_CONNS can be set at run time.
// internal/e2e/slowclient_test.go attacks a hub started with this bind.
func ImageEnv() []string {
	return []string{
		// Modules' bin links first (as bun's installer sets it up), then
		// bun itself, then the hub.
		"PATH=" + ImageModules + "/bin:" + ImageBunDir + ":/usr/bin:/bin",
		"PARACHUTE_HOME=" + ImageHome,
		"BUN_INSTALL=" + ImageModules,
		"TMPDIR=" + ImageTmp,
		"PARACHUTE_BIND_HOST=0.0.0.0",
		"PORT=" + strconv.Itoa(config.DefaultHubPort),
		"SSL_CERT_FILE=" + caBundlePath,
	}
}

// ImageRequest is the multi-arch image to build.
type ImageRequest struct {
	// Binaries maps each Linux target to its parachute binary.
	Binaries map[Target]string
	// Targets fixes the order of the index (amd64 first).
	Targets []Target
	Stamp   Stamp
	// CABundle is the PEM bundle to install; "" means the host's.
	CABundle string
	// CacheDir keeps the pinned downloads (bun, glibc) between builds; ""
	// means DefaultCacheDir().
	CacheDir string
	// Client downloads them; nil means a default client.
	Client *http.Client
}

// BuildImage writes an OCI image layout to dir: index.json names one
// multi-arch image index (ref name = the version), whose images hold a base
// layer (passwd, group, CA certificates, /tmp, the data directory) and a
// layer with bun and the glibc it needs (bunlayer.go), and a layer with
// the static binary. No base image is downloaded, and every
// timestamp is the stamp's, so two builds of one commit are identical.
func BuildImage(req ImageRequest, dir string) (v1.Hash, error) {
	caPath := req.CABundle
	if caPath == "" {
		caPath = caBundlePath
	}
	ca, err := os.ReadFile(caPath)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading the CA bundle: %w", err)
	}
	base, err := layerOf(baseEntries(ca), req.Stamp)
	if err != nil {
		return v1.Hash{}, err
	}

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	imgs := make([]v1.Image, len(req.Targets))
	for i, t := range req.Targets {
		bin, ok := req.Binaries[t]
		if !ok {
			return v1.Hash{}, fmt.Errorf("building the image: no binary for %s", t)
		}
		cacheDir := req.CacheDir
		if cacheDir == "" {
			cacheDir = DefaultCacheDir()
		}
		bunFiles, err := bunEntries(req.Client, cacheDir, t.Arch)
		if err != nil {
			return v1.Hash{}, err
		}
		bunLayer, err := layerOf(bunFiles, req.Stamp)
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := imageFor(t, bin, base, bunLayer, req.Stamp)
		if err != nil {
			return v1.Hash{}, err
		}
		imgs[i] = img
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: t.OS, Architecture: t.OCIArch()},
			},
		})
	}
	idx = mutate.Annotations(idx, imageAnnotations(req.Stamp)).(v1.ImageIndex)

	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, fmt.Errorf("clearing %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("creating the image layout: %w", err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		refNameAnnotation: req.Stamp.Version,
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the image layout: %w", err)
	}
	// Each platform's image gets a name of its own too: tools that do not
	// pick a platform out of an index (umoci 0.4 calls the tag ambiguous)
	// can still unpack one.
	for i, t := range req.Targets {
		if err := p.AppendImage(imgs[i],
			layout.WithAnnotations(map[string]string{refNameAnnotation: ImageRef(req.Stamp, t)}),
			layout.WithPlatform(v1.Platform{OS: t.OS, Architecture: t.OCIArch()}),
		); err != nil {
			return v1.Hash{}, fmt.Errorf("writing the %s image: %w", t, err)
		}
	}
	return idx.Digest()
}

// refNameAnnotation names a descriptor of an OCI layout's index.json (the
// "tag" of oci:<dir>:<tag>).
const refNameAnnotation = "org.opencontainers.image.ref.name"

// ImageRef is the name of one platform's image in the layout, e.g.
// "1.2.0-linux-arm64"; the multi-arch index is named by the version alone.
func ImageRef(s Stamp, t Target) string { return s.Version + "-" + t.OS + "-" + t.OCIArch() }

// imageFor assembles the image of one platform on an empty OCI base.
func imageFor(t Target, binary string, base, bun v1.Layer, s Stamp) (v1.Image, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the %s binary: %w", t, err)
	}
	bin, err := layerOf([]tarEntry{
		{Name: "usr", Dir: true, Mode: 0o755},
		{Name: "usr/bin", Dir: true, Mode: 0o755},
		{Name: "usr/bin/parachute", Mode: 0o755, Data: data},
		// Modules' commands are "#!/usr/bin/env bun" scripts and the image
		// has no coreutils: the binary acts as env (internal/envshim).
		{Name: "usr/bin/env", Mode: 0o777, Link: "parachute"},
	}, s)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.Time}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "parachute-dist: base (passwd, CA certificates, " + ImageHome + ")",
		}},
		mutate.Addendum{Layer: bun, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "parachute-dist: bun " + BunVersion + " and glibc " + libc6Version + " (Debian libc6)",
		}},
		mutate.Addendum{Layer: bin, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "parachute-dist: " + ImageBinary + " " + s.Version,
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("adding the layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = t.OS, t.OCIArch()
	cf.Author = Vendor
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", ImageUID, ImageUID),
		Env:          ImageEnv(),
		Entrypoint:   []string{ImageBinary, "serve"},
		WorkingDir:   ImageHome,
		ExposedPorts: map[string]struct{}{strconv.Itoa(config.DefaultHubPort) + "/tcp": {}},
		Volumes:      map[string]struct{}{ImageHome: {}},
		StopSignal:   "SIGTERM",
		Labels:       imageAnnotations(s),
		// A Docker extension the OCI spec lacks (runtimes that read OCI
		// only ignore it; Fly and Render use their own checks, see fly.toml
		// and render.yaml). The image has no curl: the binary probes itself.
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", ImageBinary, "health", "--timeout", "4s"},
			Interval:    30 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 10 * time.Second,
			Retries:     3,
		},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the image config: %w", err)
	}
	img, err = mutate.CreatedAt(img, created)
	if err != nil {
		return nil, fmt.Errorf("dating the image: %w", err)
	}
	return img, nil
}

// imageAnnotations are the OCI annotations of the index and the labels of
// each image.
func imageAnnotations(s Stamp) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       Name,
		"org.opencontainers.image.description": Summary,
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.revision":    s.Commit,
		"org.opencontainers.image.created":     s.Date(),
		"org.opencontainers.image.source":      Homepage,
		"org.opencontainers.image.url":         Homepage,
		"org.opencontainers.image.vendor":      Vendor,
	}
}

// baseEntries is the file system every image shares: just enough for a
// static binary that runs as a named non-root user and makes TLS calls.
func baseEntries(ca []byte) []tarEntry {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n"+
		"parachute:x:%d:%d:Parachute hub:%s:/sbin/nologin\n", ImageUID, ImageUID, ImageHome)
	group := fmt.Sprintf("root:x:0:\nparachute:x:%d:\n", ImageUID)
	return []tarEntry{
		{Name: "etc", Dir: true, Mode: 0o755},
		{Name: "etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Name: "etc/group", Mode: 0o644, Data: []byte(group)},
		{Name: "etc/ssl", Dir: true, Mode: 0o755},
		{Name: "etc/ssl/certs", Dir: true, Mode: 0o755},
		{Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: ca},
		// The data volume: owned by the hub's uid so a fresh volume (Fly,
		// docker) is writable; 0750 so the hub writes operator.token
		// group-readable, as on a packaged install.
		{Name: ImageHome[1:], Dir: true, Mode: 0o750, UID: ImageUID, GID: ImageUID},
		{Name: "root", Dir: true, Mode: 0o700},
		{Name: "tmp", Dir: true, Mode: 0o1777},
	}
}

// layerOf makes an OCI layer of a deterministic tar.
func layerOf(entries []tarEntry, s Stamp) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := writeTar(&buf, entries, s.Time); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making a layer: %w", err)
	}
	return l, nil
}
