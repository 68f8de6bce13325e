package twofactor

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Backup codes, exactly as the reference makes them, so codes issued by
// either hub work in the other.
const (
	// BackupCodeCount is how many codes one enrolment issues.
	BackupCodeCount = 10
	// BackupCodeLen is the number of characters in a code, hyphen excluded.
	BackupCodeLen = 10
	// BackupAlphabet is lower-case alphanumerics without the look-alikes
	// 0/o and 1/l/i: 31 characters, easy to read aloud and type back.
	BackupAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"
)

// HashFunc hashes a normalised backup code for storage; in the hub it is the
// password package's argon2id hasher (PHC string), the same as the
// reference's @node-rs/argon2.
type HashFunc func(normalized string) (string, error)

// VerifyFunc reports whether a normalised code matches a stored hash. An
// error means the hash could not be read; that entry is skipped.
type VerifyFunc func(hash, normalized string) (bool, error)

// ErrCorruptBackupCodes reports a users.totp_backup_codes value that is not a
// JSON array; the user should sign in with TOTP and re-enrol.
var ErrCorruptBackupCodes = errors.New("stored backup codes are not a JSON array: sign in with a TOTP code and re-enrol 2FA to issue new ones")

// NormalizeBackupCode turns a typed code into the form that is hashed:
// trimmed, lower case, with every white-space character and hyphen removed,
// as the reference does, so "ABCDE-FGHJK" and "abcdefghjk" match.
func NormalizeBackupCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, code)
}

// GenerateBackupCodes makes BackupCodeCount fresh codes from r (crypto/rand
// when nil), formatted for display as "abcde-fghjk", and returns them with
// the JSON array of their hashes to store in users.totp_backup_codes. The
// plain codes are shown once and never stored.
func GenerateBackupCodes(r io.Reader, hash HashFunc) (codes []string, stored string, err error) {
	if r == nil {
		r = rand.Reader
	}
	hashes := make([]string, 0, BackupCodeCount)
	for range BackupCodeCount {
		code, err := randomBackupCode(r)
		if err != nil {
			return nil, "", err
		}
		h, err := hash(NormalizeBackupCode(code))
		if err != nil {
			return nil, "", fmt.Errorf("hashing backup code: %w", err)
		}
		codes = append(codes, code)
		hashes = append(hashes, h)
	}
	stored, err = encodeHashes(hashes)
	if err != nil {
		return nil, "", err
	}
	return codes, stored, nil
}

// randomBackupCode draws BackupCodeLen characters uniformly from the
// alphabet. Why rejection sampling: the reference's byte % 31 favours the
// first eight characters slightly; dropping bytes ≥ 248 (8*31) removes the
// bias at no cost to compatibility.
func randomBackupCode(r io.Reader) (string, error) {
	const limit = 256 - 256%len(BackupAlphabet)
	var out strings.Builder
	buf := make([]byte, 16)
	n := 0
	for n < BackupCodeLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("reading random backup code: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit || n == BackupCodeLen {
				continue
			}
			out.WriteByte(BackupAlphabet[int(b)%len(BackupAlphabet)])
			n++
			if n == 5 {
				out.WriteByte('-')
			}
		}
	}
	return out.String(), nil
}

// MatchBackupCode checks input against the stored JSON array of hashes. On a
// match it returns the array without the matched hash, for the caller to
// write back in the same transaction that re-reads the column (consumption
// is single-use only if that write is conditional on the value it read). A
// NULL or empty column holds no codes. Entries that are not strings are
// dropped, as the reference does.
//
// Inputs that cannot be a code (after normalising, not 10 characters of the
// alphabet) are refused before any hash is computed, so a guess costs the
// attacker a rate-limit slot but the hub no argon2id work.
func MatchBackupCode(codesJSON, input string, verify VerifyFunc) (remaining string, ok bool, err error) {
	hashes, err := decodeHashes(codesJSON)
	if err != nil {
		return "", false, err
	}
	if len(input) > maxCodeLen {
		return "", false, nil
	}
	norm := NormalizeBackupCode(input)
	if !isBackupCodeShape(norm) {
		return "", false, nil
	}
	for i, h := range hashes {
		match, err := verify(h, norm)
		if err != nil || !match {
			continue // an unreadable hash is skipped, as the reference does
		}
		rest := append(append([]string{}, hashes[:i]...), hashes[i+1:]...)
		out, err := encodeHashes(rest)
		if err != nil {
			return "", false, err
		}
		return out, true, nil
	}
	return "", false, nil
}

// CountBackupCodes reports how many codes remain in the stored JSON array.
func CountBackupCodes(codesJSON string) (int, error) {
	hashes, err := decodeHashes(codesJSON)
	return len(hashes), err
}

func isBackupCodeShape(norm string) bool {
	if len(norm) != BackupCodeLen {
		return false
	}
	for i := 0; i < len(norm); i++ {
		if strings.IndexByte(BackupAlphabet, norm[i]) < 0 {
			return false
		}
	}
	return true
}

func decodeHashes(codesJSON string) ([]string, error) {
	if strings.TrimSpace(codesJSON) == "" {
		return nil, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(codesJSON), &raw); err != nil {
		return nil, ErrCorruptBackupCodes // "null" decodes to no codes
	}
	hashes := make([]string, 0, len(raw))
	for _, m := range raw {
		var s string
		// Why the quote check: json.Unmarshal reads null into a string as "".
		if len(m) > 0 && m[0] == '"' && json.Unmarshal(m, &s) == nil {
			hashes = append(hashes, s)
		}
	}
	return hashes, nil
}

// encodeHashes writes the compact array JSON.stringify writes. Why no HTML
// escaping: the value is a database column, and the reference reads it with
// JSON.parse, which accepts either form, but byte-equal output keeps
// fixtures comparable.
func encodeHashes(hashes []string) (string, error) {
	if hashes == nil {
		hashes = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hashes); err != nil {
		return "", fmt.Errorf("encoding backup codes: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}
