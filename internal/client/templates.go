package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/osprey-aiops/osprey"
)

// TemplateQuery selects log templates for ListTemplates. Zero fields select
// everything the server returns by default.
type TemplateQuery struct {
	// Source keeps one source's templates (loki, syslog, file, otlp).
	Source string
	// Text keeps templates whose text contains it literally.
	Text string
	// Limit caps the number returned (server default 100).
	Limit int
}

// ListTemplates returns the mined log templates, most frequent first (GET
// /api/v1/log-templates).
func (c *Client) ListTemplates(ctx context.Context, q TemplateQuery) ([]osprey.LogTemplate, error) {
	v := url.Values{}
	if q.Source != "" {
		v.Set("source", q.Source)
	}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Templates []osprey.LogTemplate `json:"templates"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/log-templates", v, nil, http.StatusOK, &out)
	return out.Templates, err
}

// GetTemplate returns one log template of source by id (GET
// /api/v1/log-templates/{source}/{id}); an id merged into another template
// is returned with AliasOf naming it.
func (c *Client) GetTemplate(ctx context.Context, source, id string) (osprey.LogTemplate, error) {
	var out osprey.LogTemplate
	err := c.do(ctx, http.MethodGet, "/api/v1/log-templates/"+seg(source)+"/"+seg(id), nil, nil, http.StatusOK, &out)
	return out, err
}
