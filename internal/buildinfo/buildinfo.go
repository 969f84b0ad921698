// Package buildinfo reports the version of the running binary.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time with -ldflags "-X
// github.com/osprey-aiops/osprey/internal/buildinfo.Version=v1.2.3". It is the
// one package variable the linker writes; nothing else may.
var Version = "dev"

// Info describes the binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Get returns the version, and the VCS revision the Go toolchain stamped into
// the binary when it was built from a checkout.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	return info
}

// String renders Info on one line.
func (i Info) String() string {
	s := fmt.Sprintf("osprey %s (%s", i.Version, i.GoVersion)
	if i.Revision != "" {
		s += ", revision " + i.Revision
		if i.Modified {
			s += "+modified"
		}
	}
	return s + ")"
}
