//go:build !unix

package doctor

import "io/fs"

// fileOwner cannot tell on this platform.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
