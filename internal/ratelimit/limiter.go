// Package ratelimit limits attempts per client on the hub's login, 2FA and
// token endpoints: a token bucket per key with bounded memory, and a Keyer
// that derives the key from the peer address so that a client cannot pick
// its own bucket with a forwarding header unless the request came through a
// proxy the operator configured as trusted.
package ratelimit

import (
	"container/list"
	"errors"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxKeys bounds a Limiter's memory when Config.MaxKeys is zero:
// about 100 bytes a bucket, so a few megabytes at most.
const DefaultMaxKeys = 10_000

// Config describes one limit, e.g. 5 attempts per 15 minutes per client IP
// for POST /login.
type Config struct {
	// Burst is how many attempts a fresh key may make at once.
	Burst int
	// Per is how long an empty bucket takes to refill to Burst; tokens
	// come back one every Per/Burst.
	Per time.Duration
	// MaxKeys caps the number of buckets held (DefaultMaxKeys if zero).
	MaxKeys int
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Decision is the outcome of one attempt.
type Decision struct {
	// Allowed reports whether the attempt may proceed.
	Allowed bool
	// Remaining is how many further attempts would be allowed right now.
	Remaining int
	// RetryAfter is how long until the next attempt is allowed; zero when
	// Allowed.
	RetryAfter time.Duration
}

// RetryAfterSeconds is the value of a 429's Retry-After header: whole
// seconds rounded up, at least 1, as the reference promises.
func (d Decision) RetryAfterSeconds() string {
	s := int64((d.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// Limiter is a set of token buckets, one per key, kept as GCRA state (one
// "theoretical arrival time" per key, equivalent to a token bucket and exact
// in integer nanoseconds). A denied attempt costs nothing, so hammering a
// full bucket does not push the next allowed attempt further away.
//
// Memory is bounded: buckets are kept in least-recently-used order, full
// (idle) buckets are dropped as they are passed, and at MaxKeys the least
// recently used bucket is evicted even if not full. That eviction can give
// an old key a fresh bucket, which is the price of a hard cap; a client has
// to touch MaxKeys other keys first, and with IPv6 grouped by /64 that
// needs as many addresses as it would take to get as many fresh buckets
// anyway.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	interval time.Duration // Per / Burst: one token
	tau      time.Duration // Per - interval: how far ahead tat may run
	maxKeys  int
	now      func() time.Time

	// mu guards the fields that follow.
	mu    sync.Mutex
	keys  map[string]*list.Element // of *bucket
	order *list.List               // front = most recently used
}

type bucket struct {
	key string
	tat time.Time // when the bucket will be full again
}

// New returns a Limiter for cfg.
func New(cfg Config) (*Limiter, error) {
	if cfg.Burst < 1 || cfg.Per <= 0 {
		return nil, errors.New("rate limit needs Burst ≥ 1 and Per > 0")
	}
	interval := cfg.Per / time.Duration(cfg.Burst)
	if interval <= 0 {
		return nil, errors.New("rate limit Per/Burst rounds to zero: use a longer Per or a smaller Burst")
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{
		interval: interval,
		tau:      interval * time.Duration(cfg.Burst-1),
		maxKeys:  cfg.MaxKeys,
		now:      cfg.Now,
		keys:     make(map[string]*list.Element),
		order:    list.New(),
	}, nil
}

// Allow records an attempt by key and reports whether it may proceed.
func (l *Limiter) Allow(key string) Decision {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.bucketLocked(key, now)
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	if ahead := tat.Sub(now); ahead > l.tau {
		return Decision{RetryAfter: ahead - l.tau}
	}
	b.tat = tat.Add(l.interval)
	return Decision{Allowed: true, Remaining: int((l.tau - b.tat.Sub(now) + l.interval) / l.interval)}
}

// Len reports how many buckets are held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// bucketLocked finds or creates key's bucket and marks it most recently
// used. On the way it drops up to two idle buckets from the LRU end, so
// memory shrinks back when traffic stops, at O(1) cost per call.
func (l *Limiter) bucketLocked(key string, now time.Time) *bucket {
	for range 2 {
		e := l.order.Back()
		if e == nil || e.Value.(*bucket).key == key || e.Value.(*bucket).tat.After(now) {
			break
		}
		l.removeLocked(e)
	}
	if e, ok := l.keys[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*bucket)
	}
	for len(l.keys) >= l.maxKeys {
		l.removeLocked(l.order.Back())
	}
	b := &bucket{key: key, tat: now}
	l.keys[key] = l.order.PushFront(b)
	return b
}

func (l *Limiter) removeLocked(e *list.Element) {
	l.order.Remove(e)
	delete(l.keys, e.Value.(*bucket).key)
}
