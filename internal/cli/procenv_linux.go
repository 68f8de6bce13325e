package cli

import (
	"os"
	"strconv"
	"strings"
)

// processEnv reads another process's environment as it was started
// (/proc/<pid>/environ): readable for our own user's processes, or any
// as root.
func processEnv(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}
