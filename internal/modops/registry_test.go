package modops

import (
	"testing"
	"time"

	"github.com/openparachute/parachute/internal/api"
)

func TestOpRegistryIsBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := newOpRegistry(3, time.Hour, func() time.Time { return now })
	var ids []string
	for i := 0; i < 5; i++ {
		id := r.create("install", "x")
		r.update(id, func(op *api.Operation) { op.Status = api.OpSucceeded })
		ids = append(ids, id)
	}
	if _, ok := r.get(ids[0]); ok {
		t.Errorf("oldest finished op still present with max=3")
	}
	if op, ok := r.get(ids[4]); !ok || op.FinishedAt == nil {
		t.Errorf("newest op = %+v, %v; want present and finished", op, ok)
	}
	now = now.Add(2 * time.Hour)
	r.create("install", "y")
	if _, ok := r.get(ids[4]); ok {
		t.Errorf("op finished over ttl ago still present")
	}
}
