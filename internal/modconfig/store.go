package modconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/openparachute/parachute/internal/atomicfile"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/secfile"
)

// MaxBodyBytes caps a PUT body. A config object of a few dozen fields is
// well under a KiB; API keys and URLs included, 64 KiB is generous.
const MaxBodyBytes = 64 << 10

// maxFileBytes caps the config.json read back (it may hold members others
// wrote; still a config file, not a data store).
const maxFileBytes = 1 << 20

// FileName is the name of a module's config file in its config directory.
const FileName = "config.json"

// ErrFileInvalid means the module's config.json exists but is not a JSON
// object; the hub will not merge into (or overwrite) what it cannot read.
var ErrFileInvalid = errors.New("config file is not a JSON object")

// Store reads and writes modules' config files and caches their compiled
// schemas. It is safe for concurrent use.
type Store struct {
	paths config.Paths

	mu sync.Mutex // guards cache; also serialises Put (read-merge-write)
	// cache holds the last compiled schema per module; an entry is reused
	// while module.json's configSchema is byte-for-byte the same, so an
	// upgrade that changes the schema is picked up on the next request.
	cache map[string]*Schema
}

// New returns a Store for the modules under paths.Root.
func New(paths config.Paths) *Store {
	return &Store{paths: paths, cache: map[string]*Schema{}}
}

// Path is <root>/<short>/config.json, where the module reads its config.
func (s *Store) Path(short string) string {
	return filepath.Join(s.paths.ModuleDir(short), FileName)
}

// Schema reads installDir's module.json and returns its compiled
// configSchema: ErrNoSchema when it declares none, a *SchemaError when it
// cannot be used.
func (s *Store) Schema(short, installDir string) (*Schema, error) {
	if err := checkShort(short); err != nil {
		return nil, err
	}
	if installDir == "" {
		return nil, fmt.Errorf("%s has no installDir in services.json, so its module.json cannot be found: %w", short, ErrNoSchema)
	}
	mod, err := manifest.LoadModule(installDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no module.json in %s: %w", short, installDir, ErrNoSchema)
	}
	if err != nil {
		return nil, &SchemaError{short, err}
	}
	if len(mod.ConfigSchema) == 0 {
		return nil, ErrNoSchema
	}
	sum := sha256.Sum256(mod.ConfigSchema)
	s.mu.Lock()
	c := s.cache[short]
	s.mu.Unlock()
	if c != nil && c.sum == sum {
		return c, nil
	}
	c, err = Compile(short, mod.ConfigSchema)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache[short] = c
	s.mu.Unlock()
	return c, nil
}

// checkShort refuses a name that is not one path element: it becomes a
// directory under the config root.
func checkShort(short string) error {
	if short == "" || short == "." || short == ".." || filepath.Base(short) != short || filepath.IsAbs(short) {
		return fmt.Errorf("invalid module name %q", short)
	}
	return nil
}

// Get returns the module's current config as the admin page sees it
// (Schema.view); a module with no config file yet has an empty one.
func (s *Store) Get(short string, sch *Schema) (map[string]any, error) {
	cur, err := s.read(short)
	if err != nil {
		return nil, err
	}
	return sch.view(cur), nil
}

// Put applies body (a JSON object, a partial update at the top level;
// null removes a member) to the module's config, validates the result
// against sch and writes it, 0600 and atomically. A body that is not a
// JSON object is an *InputError; a result the schema refuses is a
// *ValidationError and nothing is written. It returns the new config as
// Get does.
func (s *Store) Put(short string, sch *Schema, body []byte) (map[string]any, error) {
	if err := checkShort(short); err != nil {
		return nil, err
	}
	patch, err := DecodeBody(body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.read(short)
	if err != nil {
		return nil, err
	}
	next := Merge(cur, patch)
	if err := sch.Validate(next, patch); err != nil {
		return nil, err
	}
	if err := s.write(short, next); err != nil {
		return nil, err
	}
	return sch.view(next), nil
}

// read decodes config.json, never through a symlink; missing is empty.
func (s *Store) read(short string) (map[string]any, error) {
	p := s.Path(short)
	f, err := secfile.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFileBytes+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if buf.Len() > maxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; move it aside and set the config again: %w", p, maxFileBytes, ErrFileInvalid)
	}
	if len(bytes.TrimSpace(buf.Bytes())) == 0 {
		return map[string]any{}, nil
	}
	v, err := decodeJSON(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %v; fix it by hand or move it aside: %w", p, err, ErrFileInvalid)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s holds %s; fix it by hand or move it aside: %w", p, kindOf(v), ErrFileInvalid)
	}
	return obj, nil
}

// write replaces config.json atomically with mode 0600. The module's
// directory is created 0700 if missing and refused if it is a symlink:
// the file holds secrets, and a link planted in a shared root would
// redirect them (atomicfile already refuses a link at the file itself).
func (s *Store) write(short string, v map[string]any) error {
	dir := s.paths.ModuleDir(short)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is a symlink or not a directory; the hub writes module config only into a real directory — replace it with one", dir)
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s's config: %w", short, err)
	}
	return atomicfile.WriteFile(s.Path(short), append(data, '\n'), 0o600)
}
