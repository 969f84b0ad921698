//go:build unix

package action

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the program in its own process group and makes the
// context's cancellation kill the whole group, so a timed-out script does not
// leave its children running.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
