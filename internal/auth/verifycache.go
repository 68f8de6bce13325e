package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"maps"
	"slices"
	"sync"
)

// verifiedCacheSize bounds the verified-signature cache. A hub sees a
// handful of live bearers at a time (the operator token, a few OAuth
// access tokens, a module's minted token), so a few hundred entries hit
// every time while the memory stays bounded (an entry is a few hundred
// bytes) however many tokens are minted or presented.
const verifiedCacheSize = 256

// verifiedCache remembers the claims of tokens whose signature this store
// has verified, keyed by the SHA-256 of the token's exact bytes.
//
// Why it is safe: a cache hit skips only what can never change for the
// same bytes — the compact form and canonical-encoding checks, the
// algorithm allowlist, the RSA signature and the payload decode. Whether
// the signing key is still usable, the token's expiry and not-before, the
// accepted issuers and audiences and the revocation registry are checked
// on every call, hit or miss, so a revocation or a key retirement made by
// another process (the CLI writes hub.db directly) still takes effect on
// the next request. Only tokens that passed every check are stored, so
// garbage cannot evict the live ones; the key is a hash of the full token,
// and checkCanonical guarantees one spelling per signed token.
type verifiedCache struct {
	mu sync.Mutex // guards m
	m  map[[sha256.Size]byte]verifiedEntry
}

// verifiedEntry is one verified token: the key that signed it and its
// decoded claims (never handed out; get returns a copy).
type verifiedEntry struct {
	kid    string
	claims *Claims
}

func (vc *verifiedCache) get(key [sha256.Size]byte) (verifiedEntry, bool) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	e, ok := vc.m[key]
	return e, ok
}

// put stores an entry, evicting an arbitrary one (map order is random)
// when the cache is full.
func (vc *verifiedCache) put(key [sha256.Size]byte, e verifiedEntry) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.m == nil {
		vc.m = make(map[[sha256.Size]byte]verifiedEntry, verifiedCacheSize)
	}
	if _, ok := vc.m[key]; !ok && len(vc.m) >= verifiedCacheSize {
		for k := range vc.m {
			delete(vc.m, k)
			break
		}
	}
	vc.m[key] = e
}

func (vc *verifiedCache) len() int {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	return len(vc.m)
}

// clone returns a copy of c that shares nothing mutable with it, so a
// caller that edits the claims it got cannot change what the cache holds.
func (c *Claims) clone() *Claims {
	out := *c
	out.Audiences = slices.Clone(c.Audiences)
	out.VaultScope = slices.Clone(c.VaultScope)
	out.Extra = maps.Clone(c.Extra)
	return &out
}

// Queries every bearer verification runs.
const (
	keyRowQuery  = `SELECT public_key_pem, algorithm, retired_at FROM signing_keys WHERE kid = ?`
	revokedQuery = `SELECT revoked_at FROM tokens WHERE jti = ?`
)

// hotStmts are the queries every bearer verification runs, prepared once
// per store rather than compiled by SQLite on every request.
type hotStmts struct {
	once    sync.Once
	keyRow  *sql.Stmt // nil when preparing failed: queries fall back to the *sql.DB
	revoked *sql.Stmt
}

// queryRow runs one of the hot queries through its prepared statement, or
// unprepared when the statements could not be prepared (the answer is the
// same, only slower).
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	h := &s.hot
	h.once.Do(func() {
		// context.Background: the statements outlive the request that
		// happens to prepare them.
		k, err := s.db.PrepareContext(context.Background(), keyRowQuery)
		if err != nil {
			return
		}
		r, err := s.db.PrepareContext(context.Background(), revokedQuery)
		if err != nil {
			k.Close()
			return
		}
		h.keyRow, h.revoked = k, r
	})
	switch {
	case query == keyRowQuery && h.keyRow != nil:
		return h.keyRow.QueryRowContext(ctx, args...)
	case query == revokedQuery && h.revoked != nil:
		return h.revoked.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

// close releases the prepared statements (Store.Close).
func (h *hotStmts) close() {
	h.once.Do(func() {}) // no preparing after Close
	for _, st := range []*sql.Stmt{h.keyRow, h.revoked} {
		if st != nil {
			st.Close()
		}
	}
}
