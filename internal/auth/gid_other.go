//go:build !unix

package auth

import "io/fs"

// fileGID reports no group where files have none in the Unix sense.
func fileGID(fs.FileInfo) (int, bool) { return 0, false }
