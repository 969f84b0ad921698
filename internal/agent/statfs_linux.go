//go:build linux

package agent

import "syscall"

// fsStat is what statfs tells of a file system.
type fsStat struct{ size, free, avail, files, filesFree float64 }

// statFS statfs(2)s the file system mounted at path.
func statFS(path string) (fsStat, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		return fsStat{}, err
	}
	bs := float64(s.Bsize)
	return fsStat{
		size:      float64(s.Blocks) * bs,
		free:      float64(s.Bfree) * bs,
		avail:     float64(s.Bavail) * bs,
		files:     float64(s.Files),
		filesFree: float64(s.Ffree),
	}, nil
}
