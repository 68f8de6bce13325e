//go:build !linux

package cli

import "errors"

// processEnv is not available here: no /proc to read another process's
// environment from.
func processEnv(int) ([]string, error) {
	return nil, errors.New("reading another process's environment is not supported on this system")
}
