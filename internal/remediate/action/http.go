package action

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"

	"golang.org/x/net/http/httpguts"
)

// HTTPSpec calls a fixed URL. Only the body is templated, and only through
// the string values of a JSON document, so the request always goes where the
// runbook says and its body is always valid JSON.
type HTTPSpec struct {
	// Method is GET, POST, PUT, PATCH or DELETE; empty means POST.
	Method string `yaml:"method"`
	// URL is an absolute http or https URL, literal (no templates).
	URL string `yaml:"url"`
	// Headers are sent with the request; secret values come from files.
	Headers []HeaderSpec `yaml:"headers"`
	// Body is a JSON document; its string values may hold templates. The
	// rendered strings are placed into the parsed document, which is then
	// marshalled: values are escaped by the JSON encoder, never pasted in.
	// Invalid UTF-8 in a value becomes U+FFFD, as JSON requires.
	Body string `yaml:"body"`
}

// HeaderSpec is one request header. Exactly one of Value and ValueFile is
// set.
type HeaderSpec struct {
	Name string `yaml:"name"`
	// Value is a literal, non-secret value.
	Value string `yaml:"value"`
	// ValueFile is a file whose content (trimmed) is the value, read at
	// each request so a rotated secret is picked up. It is never shown in
	// plans or logs.
	ValueFile string `yaml:"value_file"`
}

// HTTPDoer sends HTTP requests; *http.Client is one.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// IsZero reports whether the spec is unset (the step is of another kind).
func (s HTTPSpec) IsZero() bool {
	return s.Method == "" && s.URL == "" && len(s.Headers) == 0 && s.Body == ""
}

var httpMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// maxBody caps a rendered request body.
const maxBody = 1 << 20

// Validate checks the spec without touching the file system or the network.
func (s HTTPSpec) Validate() error {
	_, err := s.Compile(Options{})
	return err
}

// Compile checks the spec and returns the Action.
func (s HTTPSpec) Compile(o Options) (*HTTP, error) {
	var p Problems
	h := &HTTP{method: s.Method, url: s.URL, headers: slices.Clone(s.Headers), maxOut: o.maxOutput(), client: o.HTTPClient}
	if h.method == "" {
		h.method = http.MethodPost
	}
	if !slices.Contains(httpMethods, h.method) {
		p.Addf("method", "%q is not one of %s", clip(s.Method), strings.Join(httpMethods, ", "))
	}
	if strings.Contains(s.URL, "{{") {
		p.Addf("url", "must be literal: only the body may hold templates")
	} else if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Addf("url", "%q is not an absolute http or https URL", clip(s.URL))
	}
	for i, hd := range s.Headers {
		path := IndexPath("headers", i)
		if !httpguts.ValidHeaderFieldName(hd.Name) {
			p.Addf(path+".name", "%q is not a valid header name", clip(hd.Name))
		} else if c := http.CanonicalHeaderKey(hd.Name); c == "Host" || c == "Content-Length" || c == "Content-Type" {
			p.Addf(path+".name", "%s is set by Osprey", c)
		}
		if (hd.Value == "") == (hd.ValueFile == "") {
			p.Addf(path, "exactly one of value and value_file must be set")
		}
		if strings.ContainsAny(hd.Value, "\r\n\x00") {
			p.Addf(path+".value", "must not contain line breaks or NUL")
		}
	}
	if s.Body != "" {
		dec := json.NewDecoder(strings.NewReader(s.Body))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			p.Addf("body", "is not a JSON document: %v", err)
		} else if dec.More() {
			p.Addf("body", "holds more than one JSON document")
		} else if n, err := compileJSON(doc, "body"); err != nil {
			p.Nest("", err)
		} else {
			h.body = n
		}
	}
	if h.client == nil {
		h.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// bodyNode is a compiled JSON value whose strings may be templates.
type bodyNode interface {
	render(d *Data) (any, error)
}

type (
	bodyLit  struct{ v any }
	bodyTmpl struct{ t *template.Template }
	bodyObj  map[string]bodyNode
	bodyArr  []bodyNode
)

func (n bodyLit) render(*Data) (any, error) { return n.v, nil }

func (n bodyTmpl) render(d *Data) (any, error) { return Render(n.t, d) }

func (n bodyObj) render(d *Data) (any, error) {
	out := make(map[string]any, len(n))
	for k, c := range n {
		v, err := c.render(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func (n bodyArr) render(d *Data) (any, error) {
	out := make([]any, len(n))
	for i, c := range n {
		v, err := c.render(d)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// compileJSON compiles the string values of a decoded JSON document as
// templates. Object keys stay literal.
func compileJSON(v any, path string) (bodyNode, error) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return bodyLit{v}, nil
		}
		t, err := ParseTemplate(path, v)
		if err != nil {
			var p Problems
			p.Addf(path, "%v", err)
			return nil, p.Err()
		}
		return bodyTmpl{t}, nil
	case map[string]any:
		var p Problems
		out := make(bodyObj, len(v))
		for k, c := range v {
			n, err := compileJSON(c, path+"."+k)
			p.Nest("", err)
			out[k] = n
		}
		return out, p.Err()
	case []any:
		var p Problems
		out := make(bodyArr, len(v))
		for i, c := range v {
			n, err := compileJSON(c, IndexPath(path, i))
			p.Nest("", err)
			out[i] = n
		}
		return out, p.Err()
	default:
		return bodyLit{v}, nil
	}
}

// HTTP is a compiled HTTPSpec.
type HTTP struct {
	method  string
	url     string
	headers []HeaderSpec
	body    bodyNode // nil: no body
	maxOut  int
	client  HTTPDoer
}

var _ Action = (*HTTP)(nil)

// Type returns "http".
func (h *HTTP) Type() string { return "http" }

// Plan renders the body and returns [method, url, body] ("" when the step
// has no body). Header values are not part of the plan: they may be
// secrets.
func (h *HTTP) Plan(d *Data) ([]string, error) {
	body := ""
	if h.body != nil {
		v, err := h.body.render(d)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		if buf.Len() > maxBody {
			return nil, fmt.Errorf("body: %d bytes exceeds %d", buf.Len(), maxBody)
		}
		body = strings.TrimSuffix(buf.String(), "\n")
	}
	return []string{h.method, h.url, body}, nil
}

// Execute sends the planned request and reads up to the output limit of the
// response. A 2xx status is success; redirects are not followed.
func (h *HTTP) Execute(ctx context.Context, args []string) Result {
	res := Result{ExitCode: -1}
	switch {
	case len(args) != 3:
		res.Err = fmt.Errorf("refused: want [method, url, body], got %d arguments", len(args))
	case args[0] != h.method || args[1] != h.url:
		res.Err = fmt.Errorf("refused: %s %s is not the runbook step's %s %s", clip(args[0]), clip(args[1]), h.method, h.url)
	case (h.body == nil) != (args[2] == ""), args[2] != "" && !json.Valid([]byte(args[2])):
		res.Err = fmt.Errorf("refused: body is not the JSON document the step plans")
	}
	if res.Err != nil {
		return res
	}
	var body io.Reader
	if args[2] != "" {
		body = strings.NewReader(args[2])
	}
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, body)
	if err != nil {
		res.Err = err
		return res
	}
	req.Header.Set("User-Agent", "osprey-remediate")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, hd := range h.headers {
		v := hd.Value
		if hd.ValueFile != "" {
			b, err := os.ReadFile(hd.ValueFile)
			if err != nil {
				res.Err = fmt.Errorf("header %s: read value_file: %w", hd.Name, err)
				return res
			}
			v = strings.TrimSpace(string(b))
			clear(b)
			if strings.ContainsAny(v, "\r\n\x00") {
				res.Err = fmt.Errorf("header %s: value_file content has a line break or NUL", hd.Name)
				return res
			}
		}
		req.Header.Add(hd.Name, v)
	}
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		res.Duration = time.Since(start)
		res.Err = err
		return res
	}
	out := &capBuffer{max: h.maxOut}
	_, rerr := io.Copy(out, io.LimitReader(resp.Body, int64(h.maxOut)+1))
	_ = resp.Body.Close()
	res.Duration = time.Since(start)
	res.HTTPStatus = resp.StatusCode
	res.Stdout = out.String()
	res.Truncated = out.dropped > 0
	res.ExitCode = 0
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		res.ExitCode = 1
		res.Err = fmt.Errorf("HTTP status %d", resp.StatusCode)
	case rerr != nil:
		res.Err = fmt.Errorf("read response: %w", rerr)
	}
	return res
}
