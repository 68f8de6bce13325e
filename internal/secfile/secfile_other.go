//go:build !unix

package secfile

import "os"

// oNoFollow is zero where open has no O_NOFOLLOW; the fstat check after the
// open still refuses anything but a regular file.
const oNoFollow = 0

func isLoop(error) bool { return false }

func checkOwned(*os.File) error { return nil }

func checkSingleLink(*os.File) error { return nil }

// GroupShared reports false: there are no Unix groups here.
func GroupShared(string) (int, bool) { return 0, false }
