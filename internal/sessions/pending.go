package sessions

import (
	"errors"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxPending bounds the pending-login map: an attacker who knows a
// password can fill it, but only this far.
const DefaultMaxPending = 10_000

// ErrPendingFull means the map is at its bound with no expired entry to drop.
var ErrPendingFull = errors.New("too many sign-ins are waiting for a second factor: retry in a few minutes")

// Pending is a sign-in whose password was right and whose second factor
// is still due.
type Pending struct {
	UserID string
	// Next is the already-sanitized page to land on afterwards.
	Next    string
	expires time.Time
}

// PendingLogins is the in-memory map between the two steps of a 2FA
// sign-in, keyed by the parachute_hub_pending_login cookie value. Entries
// live PendingTTL. It is safe for concurrent use.
type PendingLogins struct {
	now func() time.Time
	max int

	mu sync.Mutex // guards m
	m  map[string]Pending
}

// NewPendingLogins returns an empty map holding at most max entries
// (DefaultMaxPending if max <= 0); now is the clock (time.Now if nil).
func NewPendingLogins(now func() time.Time, max int) *PendingLogins {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMaxPending
	}
	return &PendingLogins{now: now, max: max, m: map[string]Pending{}}
}

// Add records p and returns its raw key.
func (p *PendingLogins) Add(userID, next string) (string, error) {
	raw, err := newRaw()
	if err != nil {
		return "", err
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= p.max {
		for k, v := range p.m {
			if !now.Before(v.expires) {
				delete(p.m, k)
			}
		}
		if len(p.m) >= p.max {
			return "", ErrPendingFull
		}
	}
	p.m[raw] = Pending{UserID: userID, Next: next, expires: now.Add(PendingTTL)}
	return raw, nil
}

// Get returns the live entry raw names.
func (p *PendingLogins) Get(raw string) (Pending, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[raw]
	if !ok {
		return Pending{}, false
	}
	if !p.now().Before(v.expires) {
		delete(p.m, raw)
		return Pending{}, false
	}
	return v, true
}

// Remove drops raw's entry (once its sign-in completed).
func (p *PendingLogins) Remove(raw string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, raw)
}

// Len is the number of entries held, expired ones included.
func (p *PendingLogins) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

// PendingCookie returns the cookie carrying raw to /login/2fa (Path=/login,
// 5 minutes); an empty raw clears it.
func (m *Manager) PendingCookie(r *http.Request, raw string) *http.Cookie {
	if raw == "" {
		return m.cookie(r, PendingCookie, "", "/login", 0)
	}
	return m.cookie(r, PendingCookie, raw, "/login", PendingTTL)
}
