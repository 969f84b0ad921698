//go:build !linux

package agent

import "errors"

// fsStat is what statfs tells of a file system.
type fsStat struct{ size, free, avail, files, filesFree float64 }

// statFS is only implemented on Linux, where the agent runs.
func statFS(string) (fsStat, error) { return fsStat{}, errors.New("statfs: only on linux") }
