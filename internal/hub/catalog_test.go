package hub

import "testing"

func TestHealthAnswerUp(t *testing.T) {
	cases := []struct {
		code int
		up   bool
	}{
		{200, true}, {204, true}, {302, true},
		{401, true}, {403, true}, // up, asking for credentials (the vault)
		{400, false}, {404, false}, {405, false}, {429, false},
		{500, false}, {502, false}, {503, false},
		{0, false}, {100, false},
	}
	for _, c := range cases {
		if got := healthAnswerUp(c.code); got != c.up {
			t.Errorf("healthAnswerUp(%d) = %v, want %v", c.code, got, c.up)
		}
	}
}
