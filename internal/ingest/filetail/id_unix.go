//go:build unix

package filetail

import (
	"os"
	"syscall"
)

// idOf returns the device and inode of fi.
func idOf(fi os.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // int32 on some platforms
	}
	return fileID{}
}
