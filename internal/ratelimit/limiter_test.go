package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func mustNew(t *testing.T, c Config) *Limiter {
	t.Helper()
	l, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLimiterRefill runs the login limit (5 per 15 min) through a sequence:
// burst, denial with Retry-After, denials not extending the wait, refill.
func TestLimiterRefill(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{Burst: 5, Per: 15 * time.Minute, Now: clk.Now})
	seq := []struct {
		name      string
		advance   time.Duration
		key       string
		allowed   bool
		remaining int
		retry     time.Duration
	}{
		{"1st", 0, "a", true, 4, 0},
		{"2nd", 0, "a", true, 3, 0},
		{"3rd", 0, "a", true, 2, 0},
		{"4th", 0, "a", true, 1, 0},
		{"5th", 0, "a", true, 0, 0},
		{"6th denied", 0, "a", false, 0, 3 * time.Minute},
		{"other key unaffected", 0, "b", true, 4, 0},
		{"denial does not extend the wait", time.Minute, "a", false, 0, 2 * time.Minute},
		{"denied again", time.Minute, "a", false, 0, time.Minute},
		{"one token back after 3 min", time.Minute, "a", true, 0, 0},
		{"and only one", 0, "a", false, 0, 3 * time.Minute},
		{"full after 15 min idle", 15 * time.Minute, "a", true, 4, 0},
	}
	for _, s := range seq {
		clk.Add(s.advance)
		got := l.Allow(s.key)
		if got.Allowed != s.allowed || got.Remaining != s.remaining || got.RetryAfter != s.retry {
			t.Fatalf("%s: Allow = %+v; want allowed=%v remaining=%d retry=%v", s.name, got, s.allowed, s.remaining, s.retry)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                              "1",
		time.Nanosecond:                "1",
		time.Second:                    "1",
		time.Second + time.Millisecond: "2",
		3 * time.Minute:                "180",
	} {
		if got := (Decision{RetryAfter: d}).RetryAfterSeconds(); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %s; want %s", d, got, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, c := range map[string]Config{
		"zero burst":     {Burst: 0, Per: time.Minute},
		"zero period":    {Burst: 1},
		"rounds to zero": {Burst: 10, Per: 5},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: New(%+v) succeeded", name, c)
		}
	}
}

// TestLimiterMemoryCap: 100k distinct keys never hold more than MaxKeys
// buckets, and a hot key that keeps being used is not the one evicted.
func TestLimiterMemoryCap(t *testing.T) {
	clk := newClock()
	const max = 1000
	l := mustNew(t, Config{Burst: 2, Per: time.Hour, MaxKeys: max, Now: clk.Now})
	l.Allow("hot")
	l.Allow("hot")
	for i := range 100_000 {
		l.Allow("k" + strconv.Itoa(i))
		if i%100 == 0 {
			if d := l.Allow("hot"); d.Allowed {
				t.Fatalf("hot key got a fresh bucket after %d other keys", i)
			}
		}
		if n := l.Len(); n > max {
			t.Fatalf("%d buckets after %d keys; cap is %d", n, i+1, max)
		}
	}
	// Idle buckets drain as traffic passes once they are full again.
	clk.Add(time.Hour)
	for range max {
		l.Allow("hot")
	}
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets after everything went idle; want 1", n)
	}
}

// TestLimiterConcurrent: racing attempts on one key admit exactly Burst.
func TestLimiterConcurrent(t *testing.T) {
	l := mustNew(t, Config{Burst: 5, Per: time.Hour, Now: newClock().Now})
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.Allow("k").Allowed {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := ok.Load(); got != 5 {
		t.Errorf("%d attempts allowed; want 5", got)
	}
}
