package modops

import (
	"sync"
	"time"

	"github.com/openparachute/parachute/internal/api"
)

// opRegistry keeps recent operations in memory. Unlike the reference it is
// bounded: at most max records, and finished ones older than ttl go first
// (reference runtime.md §8.25).
type opRegistry struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex // guards order and byID
	order []string
	byID  map[string]*api.Operation
}

func newOpRegistry(max int, ttl time.Duration, now func() time.Time) *opRegistry {
	return &opRegistry{max: max, ttl: ttl, now: now, byID: map[string]*api.Operation{}}
}

// create registers a pending operation and returns its id.
func (r *opRegistry) create(kind, short string) string {
	id := newOpID()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evictLocked()
	r.byID[id] = &api.Operation{ID: id, Kind: kind, Short: short, Status: api.OpPending, Log: []string{}, StartedAt: r.now().UTC()}
	r.order = append(r.order, id)
	return id
}

// update applies fn to the operation under the lock.
func (r *opRegistry) update(id string, fn func(*api.Operation)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op, ok := r.byID[id]; ok {
		fn(op)
		if (op.Status == api.OpSucceeded || op.Status == api.OpFailed) && op.FinishedAt == nil {
			t := r.now().UTC()
			op.FinishedAt = &t
		}
	}
}

// get returns a copy of the operation.
func (r *opRegistry) get(id string) (api.Operation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op, ok := r.byID[id]
	if !ok {
		return api.Operation{}, false
	}
	c := *op
	c.Log = append([]string(nil), op.Log...)
	return c, true
}

func (r *opRegistry) evictLocked() {
	cut := r.now().Add(-r.ttl)
	keep := r.order[:0]
	for i, id := range r.order {
		op := r.byID[id]
		over := len(r.order)-i >= r.max // this one would push us past max
		old := op.FinishedAt != nil && op.FinishedAt.Before(cut)
		if (over && op.FinishedAt != nil) || old {
			delete(r.byID, id)
			continue
		}
		keep = append(keep, id)
	}
	r.order = keep
}
