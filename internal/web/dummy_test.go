package web

import (
	"strings"
	"testing"

	"github.com/openparachute/parachute/internal/accounts"
)

// The dummy hash an unknown username is checked against must cost what a
// real one costs: the same algorithm and parameters HashPassword writes
// now, and a well-formed hash that verifies (to false) without error.
func TestDummyPasswordHashMatchesRealCost(t *testing.T) {
	real, err := accounts.HashPassword("a password of some length")
	if err != nil {
		t.Fatal(err)
	}
	params := func(phc string) string { // "$argon2id$v=19$m=…,t=…,p=…$"
		parts := strings.Split(phc, "$")
		if len(parts) != 6 {
			t.Fatalf("not a PHC string: %q", phc)
		}
		return strings.Join(parts[:4], "$")
	}
	if got, want := params(dummyPasswordHash), params(real); got != want {
		t.Fatalf("dummy hash parameters %q, HashPassword writes %q: regenerate dummyPasswordHash", got, want)
	}
	ok, err := accounts.VerifyPassword(dummyPasswordHash, "anything")
	if err != nil || ok {
		t.Fatalf("VerifyPassword(dummy) = %v, %v; want false, nil", ok, err)
	}
}
