package accounts

import (
	"context"
	"sync"
	"testing"

	"github.com/openparachute/parachute/internal/twofactor"
)

func TestTOTPStateAndBackupCodesRace(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	u, err := st.Create(ctx, "alice", "correct horse battery", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	codes, stored, err := twofactor.GenerateBackupCodes(nil, HashBackupCode)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnableTOTP(ctx, u.ID, "JBSWY3DPEHPK3PXPJBSWY3DP", stored); err != nil {
		t.Fatal(err)
	}
	if sec, _, _ := st.TOTP(ctx, u.ID); sec != "JBSWY3DPEHPK3PXPJBSWY3DP" {
		t.Fatalf("secret = %q", sec)
	}
	// Two racing sign-ins with the same code: exactly one spends it.
	var wg sync.WaitGroup
	wins := make(chan bool, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.UseBackupCode(ctx, u.ID, codes[0])
			if err != nil {
				t.Error(err)
			}
			wins <- ok
		}()
	}
	wg.Wait()
	close(wins)
	n := 0
	for ok := range wins {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("code spent %d times, want 1", n)
	}
	if err := st.DisableTOTP(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if sec, c, _ := st.TOTP(ctx, u.ID); sec != "" || c != "" {
		t.Errorf("after disable: %q %q", sec, c)
	}
	if ok, _ := st.UseBackupCode(ctx, u.ID, codes[1]); ok {
		t.Error("backup code accepted after disable")
	}
}
