package sessions

import (
	"testing"
	"time"
)

func TestPendingLogins(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	p := NewPendingLogins(clk.Now, 2)
	a, err := p.Add("u1", "/account/")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Get(a); !ok || got.UserID != "u1" || got.Next != "/account/" {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if _, err := p.Add("u2", "/"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add("u3", "/"); err != ErrPendingFull {
		t.Fatalf("third Add = %v, want ErrPendingFull", err)
	}
	clk.Add(PendingTTL)
	if _, ok := p.Get(a); ok {
		t.Error("entry live after 5 minutes")
	}
	// Expired entries make room.
	if _, err := p.Add("u3", "/"); err != nil {
		t.Fatalf("Add after expiry: %v", err)
	}
	if p.Len() != 2 { // u2 (expired, swept when full) and u3
		t.Errorf("Len = %d, want 2", p.Len())
	}
	b, _ := p.Add("u4", "/")
	p.Remove(b)
	if _, ok := p.Get(b); ok {
		t.Error("removed entry still there")
	}
}
