package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/osprey-aiops/osprey"
)

// named is a component with a name for logs and errors.
type named struct {
	name string
	c    osprey.Component
}

// group starts components in order and shuts them down in reverse order.
type group struct {
	log     *slog.Logger
	started []named
}

// start starts c, remembering it for shutdown.
func (g *group) start(ctx context.Context, name string, c osprey.Component) error {
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	g.log.Debug("started", "component", name)
	g.started = append(g.started, named{name, c})
	return nil
}

// shutdown stops every started component, last started first, each within
// ctx's deadline, and reports every error.
func (g *group) shutdown(ctx context.Context) error {
	var errs []error
	for i := len(g.started) - 1; i >= 0; i-- {
		n := g.started[i]
		if err := n.c.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down %s: %w", n.name, err))
			continue
		}
		g.log.Debug("stopped", "component", n.name)
	}
	g.started = nil
	return errors.Join(errs...)
}
