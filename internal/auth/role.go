package auth

import (
	"fmt"
	"strings"

	"github.com/osprey-aiops/osprey/internal/config"
)

// Role is what a principal may do. Roles are ordered: each includes the rights
// of those below it. The zero Role grants nothing.
type Role uint8

// Roles, from least to most privileged.
const (
	// RoleViewer may read.
	RoleViewer Role = iota + 1
	// RoleOperator may read, send events and act on incidents.
	RoleOperator
	// RoleAdmin may do everything.
	RoleAdmin
)

// String returns the role's configuration name ("viewer", ...), or "none" for
// the zero Role.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return config.RoleViewer
	case RoleOperator:
		return config.RoleOperator
	case RoleAdmin:
		return config.RoleAdmin
	case 0:
		return "none"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Includes reports whether r grants at least the rights of min. No role
// includes the zero Role's "nothing" by accident: min must be a valid role.
func (r Role) Includes(min Role) bool {
	return min.Valid() && r.Valid() && r >= min
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r >= RoleViewer && r <= RoleAdmin }

// MarshalText encodes r as its name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// ParseRole maps a configuration role name (viewer, operator, admin; case is
// ignored) to a Role.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case config.RoleViewer:
		return RoleViewer, nil
	case config.RoleOperator:
		return RoleOperator, nil
	case config.RoleAdmin:
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("unknown role %q (want %s, %s or %s)", s, config.RoleViewer, config.RoleOperator, config.RoleAdmin)
}
