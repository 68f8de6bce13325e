package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/openparachute/parachute/internal/hubdb"
)

// Algorithm is the only JWT signing algorithm the hub issues or accepts.
const Algorithm = "RS256"

// keyBits is the RSA modulus size of generated keys (as the reference).
const keyBits = 2048

// KeyRetention is how long a retired key keeps verifying tokens and stays
// in the JWKS: clients cache JWKS for up to about a day, and a stale cache
// must not reject signatures made just before a rotation.
const KeyRetention = 24 * time.Hour

// SigningKey is one row of signing_keys, without its private half (which
// never leaves the store).
type SigningKey struct {
	// KID is base64url(SHA-256(PublicKeyPEM)), no padding.
	KID string
	// Algorithm is always RS256 for keys this package uses.
	Algorithm string
	// PublicKeyPEM is the SPKI PEM text exactly as stored.
	PublicKeyPEM string
	// PublicKey is PublicKeyPEM parsed.
	PublicKey *rsa.PublicKey
	// CreatedAt is when the key was generated.
	CreatedAt time.Time
	// RetiredAt is when the key was replaced; zero while it is active.
	RetiredAt time.Time
}

// errNoActiveKey means signing_keys has no usable active row.
var errNoActiveKey = errors.New("no active signing key")

// KID computes a key id the way the reference does: base64url without
// padding of the SHA-256 of the public key's PEM text.
func KID(publicKeyPEM string) string {
	sum := sha256.Sum256([]byte(publicKeyPEM))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// EnsureSigningKey returns the newest active RS256 key, generating and
// storing a 2048-bit one when there is none. Two processes calling it at
// once end up with the same single key: the loser of the race discards
// the key it generated and returns the winner's.
func (s *Store) EnsureSigningKey(ctx context.Context) (*SigningKey, error) {
	k, err := s.activeKey(ctx, s.db)
	if !errors.Is(err, errNoActiveKey) {
		return k, err
	}
	// Generate outside the write lock: RSA generation takes tens to
	// hundreds of milliseconds and would stall every other writer.
	gen, err := generateKey(s.now())
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see Open)
	if err != nil {
		return nil, fmt.Errorf("locking hub db for a signing key: %w", err)
	}
	defer tx.Rollback()
	// Re-read under the lock: another process may have inserted a key
	// between our first read and BEGIN.
	k, err = s.activeKey(ctx, tx)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, errNoActiveKey) {
		return nil, err
	}
	if err := insertKey(ctx, tx, gen); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storing signing key: %w", err)
	}
	s.forgetKeyRows()
	return s.activeKey(ctx, s.db)
}

// RotateSigningKey generates a new key, retires every active one and
// returns the new key. Tokens signed by the old key keep verifying for
// KeyRetention.
func (s *Store) RotateSigningKey(ctx context.Context) (*SigningKey, error) {
	gen, err := generateKey(s.now())
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("locking hub db to rotate the signing key: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL`, gen.createdAt); err != nil {
		return nil, fmt.Errorf("retiring signing keys: %w", err)
	}
	if err := insertKey(ctx, tx, gen); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("rotating signing key: %w", err)
	}
	s.forgetKeyRows()
	return s.activeKey(ctx, s.db)
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// activeKey loads the newest non-retired RS256 key and caches its private
// half for signing.
func (s *Store) activeKey(ctx context.Context, q queryer) (*SigningKey, error) {
	var kid, pubPEM, privPEM, created string
	err := q.QueryRowContext(ctx, `
		SELECT kid, public_key_pem, private_key_pem, created_at FROM signing_keys
		WHERE retired_at IS NULL AND algorithm = ?
		ORDER BY created_at DESC, kid DESC LIMIT 1`, Algorithm).
		Scan(&kid, &pubPEM, &privPEM, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoActiveKey
	}
	if err != nil {
		return nil, fmt.Errorf("reading active signing key: %w", err)
	}
	pub, err := s.publicKey(kid, pubPEM)
	if err != nil {
		return nil, err
	}
	if _, err := s.privateKey(kid, privPEM, pub); err != nil {
		return nil, err
	}
	k := &SigningKey{KID: kid, Algorithm: Algorithm, PublicKeyPEM: pubPEM, PublicKey: pub}
	if k.CreatedAt, err = hubdb.ParseTime(created); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	return k, nil
}

// signer returns the active key's id and private key, creating a key when
// the database has none.
func (s *Store) signer(ctx context.Context) (string, *rsa.PrivateKey, error) {
	k, err := s.EnsureSigningKey(ctx)
	if err != nil {
		return "", nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return k.KID, s.privs[k.KID], nil
}

// verifyingKey returns the public key for kid when the key is active or
// was retired less than KeyRetention ago.
func (s *Store) verifyingKey(ctx context.Context, kid string, now time.Time) (*rsa.PublicKey, error) {
	row, err := s.keyRow(ctx, kid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, invalid("token signed by an unknown key (kid %q)", kid)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up signing key %s: %w", kid, err)
	}
	if row.alg != Algorithm {
		return nil, invalid("signing key %s is %s, not %s", kid, row.alg, Algorithm)
	}
	if row.retired.Valid && !withinRetention(row.retired.String, now) {
		return nil, invalid("token signed by key %s, retired at %s", kid, row.retired.String)
	}
	return s.publicKey(kid, row.pubPEM)
}

// keyRecheck is how long verifyingKey trusts what it last read of a key's
// row before reading it again.
//
// Why a cache at all: the row was read on every bearer request, and that
// query was a fifth of a verification's cost. Why it is safe: a key this
// process retires or adds (RotateSigningKey, EnsureSigningKey) drops the
// cache at once; a retirement by another process (the CLI's
// `auth rotate-key`) is seen within keyRecheck, which changes nothing
// since a retired key keeps verifying for KeyRetention anyway; the expiry
// of that retention is computed from the cached retired_at on every call.
const keyRecheck = time.Second

// keyRowEntry is what keyRow last read of one signing_keys row.
type keyRowEntry struct {
	pubPEM, alg string
	retired     sql.NullString
	readAt      time.Time // monotonic: the store's clock may be pinned by tests
}

// keyRow returns kid's row, from the cache when it was read less than
// s.keyRecheck ago; sql.ErrNoRows when there is none.
func (s *Store) keyRow(ctx context.Context, kid string) (keyRowEntry, error) {
	s.mu.Lock()
	e, ok := s.keyRows[kid]
	s.mu.Unlock()
	if ok && time.Since(e.readAt) < s.keyRecheck {
		return e, nil
	}
	e = keyRowEntry{readAt: time.Now()}
	err := s.queryRow(ctx, keyRowQuery, kid).Scan(&e.pubPEM, &e.alg, &e.retired)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.keyRows, kid)
		return keyRowEntry{}, err
	}
	s.keyRows[kid] = e // one entry per key in hub.db: bounded by the table
	return e, nil
}

// forgetKeyRows drops the key-row cache after this process changed
// signing_keys.
func (s *Store) forgetKeyRows() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.keyRows)
}

// withinRetention reports whether a key retired at the stored time is
// still usable for verification at now. An unreadable time counts as
// long past.
func withinRetention(retiredAt string, now time.Time) bool {
	t, err := hubdb.ParseTime(retiredAt)
	return err == nil && now.Sub(t) < KeyRetention
}

// publicKey parses (once per kid) an SPKI PEM public key.
func (s *Store) publicKey(kid, pubPEM string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.pubs[kid]; ok {
		return k, nil
	}
	if KID(pubPEM) != kid {
		return nil, fmt.Errorf("signing key %s: kid does not match its public key", kid)
	}
	k, err := parsePublicPEM(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	s.pubs[kid] = k
	return k, nil
}

// privateKey parses (once per kid) a PKCS#8 PEM private key and checks it
// belongs to pub, so a damaged row cannot mint tokens nobody can verify.
func (s *Store) privateKey(kid, privPEM string, pub *rsa.PublicKey) (*rsa.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.privs[kid]; ok {
		return k, nil
	}
	k, err := parsePrivatePEM(privPEM)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	if !k.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("signing key %s: private key does not match its public key", kid)
	}
	s.privs[kid] = k
	return k, nil
}

// generatedKey is a fresh key pair ready to insert.
type generatedKey struct {
	kid, pubPEM, privPEM, createdAt string
}

// generateKey makes an RSA-2048 pair, PEM-encoded as the reference does:
// SPKI "PUBLIC KEY" and PKCS#8 "PRIVATE KEY".
func generateKey(now time.Time) (generatedKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return generatedKey{}, fmt.Errorf("generating RSA signing key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return generatedKey{}, fmt.Errorf("encoding public key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return generatedKey{}, fmt.Errorf("encoding private key: %w", err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	return generatedKey{kid: KID(pubPEM), pubPEM: pubPEM, privPEM: privPEM, createdAt: hubdb.FormatTime(now)}, nil
}

func insertKey(ctx context.Context, tx *sql.Tx, k generatedKey) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO signing_keys (kid, public_key_pem, private_key_pem, algorithm, created_at, retired_at)
		VALUES (?, ?, ?, ?, ?, NULL)`, k.kid, k.pubPEM, k.privPEM, Algorithm, k.createdAt)
	if err != nil {
		return fmt.Errorf("inserting signing key: %w", err)
	}
	return nil
}

func parsePublicPEM(text string) (*rsa.PublicKey, error) {
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, errors.New("public key is not PEM")
	}
	switch b.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not RSA", k)
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unexpected public key PEM type %q", b.Type)
}

func parsePrivatePEM(text string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, errors.New("private key is not PEM")
	}
	switch b.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not RSA", k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing private key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unexpected private key PEM type %q", b.Type)
}
