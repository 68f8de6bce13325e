package twofactor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"
)

// ReplayTTL is how long an accepted (secret, step) stays refused. A step's
// code is acceptable for at most (2*Skew+1)*Period = 90 s, so 120 s outlives
// every window in which a replay could otherwise succeed.
const ReplayTTL = 120 * time.Second

// DefaultReplayEntries bounds the replay cache. Each entry is one accepted
// login within the last two minutes, so this is far above any real load.
const DefaultReplayEntries = 100_000

// ErrReplayCacheFull means the cache holds its maximum of live entries. The
// verifier then refuses codes rather than forget one that is still live,
// which would let it be replayed; the user can retry in two minutes or use
// a backup code.
var ErrReplayCacheFull = errors.New("TOTP replay cache is full: refusing the code; retry in two minutes or use a backup code")

// ReplayCache remembers accepted TOTP steps, keyed by sha256(secret):step so
// the process never holds a plaintext secret as a map key (the reference's
// defence against heap dumps). It lives in memory only, like the
// reference's: a restart forgets it, which costs at most one replay window.
type ReplayCache struct {
	now func() time.Time
	max int

	// mu guards the fields that follow.
	mu        sync.Mutex
	used      map[string]time.Time // key → expiry
	lastSweep time.Time
}

// NewReplayCache returns an empty cache of at most max live entries, reading
// the time from now.
func NewReplayCache(now func() time.Time, max int) *ReplayCache {
	if now == nil {
		now = time.Now
	}
	if max < 1 {
		max = 1
	}
	return &ReplayCache{now: now, max: max, used: make(map[string]time.Time)}
}

// MarkUsed records (secret, step) as used and reports true, or reports false
// if it was already recorded within ReplayTTL. Check and record happen under
// one lock, so of two racing logins with the same code exactly one wins.
func (c *ReplayCache) MarkUsed(secret string, step uint64) (bool, error) {
	sum := sha256.Sum256([]byte(secret))
	key := hex.EncodeToString(sum[:]) + ":" + strconv.FormatUint(step, 10)
	now := c.now()

	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.used[key]; ok && now.Before(exp) {
		return false, nil
	}
	// Sweep at most once per TTL, or when full, so the work stays amortised
	// O(1) per accepted code.
	if len(c.used) >= c.max || now.Sub(c.lastSweep) >= ReplayTTL {
		c.sweepLocked(now)
	}
	if _, ok := c.used[key]; !ok && len(c.used) >= c.max {
		return false, ErrReplayCacheFull
	}
	c.used[key] = now.Add(ReplayTTL)
	return true, nil
}

// Len reports the number of entries held, live or not yet swept.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.used)
}

func (c *ReplayCache) sweepLocked(now time.Time) {
	for k, exp := range c.used {
		if !now.Before(exp) {
			delete(c.used, k)
		}
	}
	c.lastSweep = now
}
