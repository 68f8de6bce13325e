package accounts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Username and password rules, the reference's (multi-user phase 1).
const (
	MinUsernameLen = 2
	MaxUsernameLen = 32
	// MinPasswordLen is a floor on length only, in characters: long
	// passphrases, no complexity classes (NIST SP 800-63B).
	MinPasswordLen = 12
)

// reservedUsernames are refused so names stay safe in URL paths.
var reservedUsernames = []string{"admin", "root", "system", "setup", "parachute", "hub"}

// ErrInvalidUsername and ErrInvalidPassword are wrapped by the validators
// with a sentence for the operator.
var (
	ErrInvalidUsername = errors.New("invalid username")
	ErrInvalidPassword = errors.New("invalid password")
)

// ValidateUsername checks a new account's name: 2-32 characters from
// [a-z0-9_-], not reserved. Lower case only, so "Bob" and "bob" can never
// be two accounts.
func ValidateUsername(name string) error {
	if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
		return fmt.Errorf("%w: username must be %d-%d characters long", ErrInvalidUsername, MinUsernameLen, MaxUsernameLen)
	}
	if strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return fmt.Errorf("%w: username must contain only lowercase letters, digits, hyphens, and underscores ([a-z0-9_-])", ErrInvalidUsername)
	}
	if slices.Contains(reservedUsernames, name) {
		return fmt.Errorf("%w: username is reserved (%s)", ErrInvalidUsername, strings.Join(reservedUsernames, ", "))
	}
	return nil
}

// ValidatePassword checks a new password: at least MinPasswordLen
// characters and at most MaxPasswordBytes bytes.
func ValidatePassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("%w: password must be at least %d characters (passphrase-friendly; no complexity rules)",
			ErrInvalidPassword, MinPasswordLen)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("%w: %w", ErrInvalidPassword, ErrPasswordTooLong)
	}
	return nil
}
