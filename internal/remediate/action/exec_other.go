//go:build !unix

package action

import "os/exec"

// setProcessGroup leaves the default: the context's cancellation kills the
// process itself.
func setProcessGroup(*exec.Cmd) {}
