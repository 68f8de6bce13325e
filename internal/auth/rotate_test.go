package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A rotated-out key, as a sequence on the store's clock: published and
// accepted right after rotation and until just before KeyRetention ends,
// then gone from the JWKS and rejected.
func TestRetiredKeyRetentionSequence(t *testing.T) {
	ctx := context.Background()
	s, oldKID := goldenStore(t) // clock pinned at goldenNow
	tok, err := s.Mint(ctx, Claims{Issuer: goldenIssuer, Subject: "s", ExpiresAt: goldenNow.Add(72 * time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		after     time.Duration // since the rotation
		published bool
	}{
		{"just rotated", 0, true},
		{"an hour later", time.Hour, true},
		{"a second before retention ends", KeyRetention - time.Second, true},
		{"retention over", KeyRetention, false},
		{"a day after that", 2 * KeyRetention, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			now := fixedClock(s, goldenNow.Add(st.after))
			set, err := s.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, k := range set.Keys {
				got[k.KeyID] = true
			}
			if !got[cur.KID] || got[oldKID] != st.published || len(set.Keys) != len(got) {
				t.Errorf("JWKS kids = %v; want %s, and the retired %s published=%v", got, cur.KID, oldKID, st.published)
			}
			_, err = s.Verify(ctx, tok, VerifyOptions{Issuers: []string{goldenIssuer}, Now: now})
			switch {
			case st.published && err != nil:
				t.Errorf("token of the retired key rejected within retention: %v", err)
			case !st.published && !errors.Is(err, ErrInvalidToken):
				t.Errorf("token of a key retired %v ago: err = %v, want ErrInvalidToken", st.after, err)
			}
		})
	}
}
