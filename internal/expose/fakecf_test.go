package expose

import (
	"fmt"
	"os"
)

func fakeCloudflared(args []string) int {
	record("cloudflared", args)
	fmt.Fprintf(os.Stderr, "fake cloudflared: unknown command %q\n", args)
	return 2
}
