package accounts

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"owner", true},
		{"al", true},
		{"a", false},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"_-_", true},
		{"Bob", false},
		{"bob smith", false},
		{"bøb", false},
		{"admin", false},
		{"hub", false},
		{"", false},
		{"bob\x1b[2J", false},
	}
	for _, tc := range tests {
		err := ValidateUsername(tc.name)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidUsername)) {
			t.Errorf("ValidateUsername(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name, pw string
		ok       bool
	}{
		{"11 characters", "elevenchars", false},
		{"12 characters", "twelvechars!", true},
		{"12 characters, multi-byte", "ääääääääääää", true},
		{"at the byte cap", strings.Repeat("x", MaxPasswordBytes), true},
		{"over the byte cap", strings.Repeat("x", MaxPasswordBytes+1), false},
	}
	for _, tc := range tests {
		err := ValidatePassword(tc.pw)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidPassword)) {
			t.Errorf("%s: ValidatePassword = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
