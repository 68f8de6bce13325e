package expose

import "github.com/openparachute/parachute/internal/servicemgr"

// defaultRunner runs real programs.
var defaultRunner Runner = servicemgr.ExecRunner
