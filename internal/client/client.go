// Package client is a typed Go client for Osprey's HTTP API (docs/api.md):
// one method per route the command line uses, each returning the domain
// types of package osprey.
//
// Errors come in two kinds. An *APIError is a reply from the server with a
// 4xx or 5xx status, carrying the message of its {"error": "..."} body
// ("server: 404 incident \"01H...\" not found"). A *ConnError means no reply
// was received at all: the server is down, the address is wrong, or the
// request timed out ("cannot reach Osprey at http://...: connection
// refused"). Reply bodies are read up to MaxResponseBytes.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxResponseBytes bounds a reply body when Client.MaxResponseBytes
// is zero: 32 MiB, far above a list of 10000 incidents without timelines.
const DefaultMaxResponseBytes = 32 << 20

// maxErrorBytes bounds how much of an error body is read and shown.
const maxErrorBytes = 64 << 10

// Client calls one Osprey server. Its fields are set once, before use; it is
// then safe for concurrent use.
type Client struct {
	// BaseURL is the server's address, "http://127.0.0.1:9464"; a path
	// prefix (behind a reverse proxy) is kept.
	BaseURL *url.URL
	// Token is sent as "Authorization: Bearer Token" when not empty.
	Token string
	// HTTP sends the requests; nil means http.DefaultClient. Its Timeout,
	// if any, bounds each request, as does the context of each call.
	HTTP *http.Client
	// MaxResponseBytes bounds a reply body; zero means
	// DefaultMaxResponseBytes. A longer reply is an error.
	MaxResponseBytes int64
	// UserAgent is sent in the User-Agent header when not empty.
	UserAgent string
}

// New returns a client for the server at baseURL (scheme http or https,
// with a host), sending token if not empty, over hc (nil for
// http.DefaultClient).
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	return &Client{BaseURL: u, Token: token, HTTP: hc}, nil
}

// ParseBaseURL checks that s is an http or https URL with a host and no
// query, and returns it with any trailing slash removed.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: want http:// or https://", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: must not have a query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// APIError is an error reply from the server.
type APIError struct {
	// Method and Path are the request's ("GET", "/api/v1/incidents/01H...").
	Method, Path string
	// StatusCode is the HTTP status of the reply.
	StatusCode int
	// Message is the "error" of the JSON body, or the start of a body that
	// is not Osprey's error JSON (a proxy's page).
	Message string
}

// Error returns "server: 404 incident \"01H...\" not found".
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("server: %d %s", e.StatusCode, msg)
}

// ConnError is a request that got no reply: the server could not be reached,
// or the request was cancelled or timed out.
type ConnError struct {
	// URL is the server's base URL.
	URL string
	Err error
}

// Error returns "cannot reach Osprey at URL: reason".
func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach Osprey at %s: %v", e.URL, e.Err)
}

// Unwrap returns the transport's error.
func (e *ConnError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is a 404 reply.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// seg escapes one path segment (an id), so that no id can name another
// route.
func seg(s string) string { return url.PathEscape(s) }

// do sends method path?query with in as the JSON body (nil for none),
// expects status want and decodes the reply into out (nil to discard it).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in any, want int, out any) error {
	if c.BaseURL == nil {
		return errors.New("client: no server URL")
	}
	// path is already escaped (see seg), so it is appended to the string.
	target := c.BaseURL.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &ConnError{URL: c.BaseURL.Redacted(), Err: transportError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return readError(resp, method, path)
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return &ConnError{URL: c.BaseURL.Redacted(), Err: fmt.Errorf("read reply to %s %s: %w", method, path, transportError(err))}
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%s %s: reply larger than %d bytes", method, path, limit)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	return nil
}

// transportError strips the *url.Error wrapper, whose message repeats the
// method and the whole URL, and names a timeout.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timed out: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// readError turns a non-success reply into an *APIError.
func readError(resp *http.Response, method, path string) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	ae := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode}
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != "" {
		ae.Message = oneLine(body.Error, 1000)
	} else {
		ae.Message = firstLine(data, 200)
	}
	return ae
}

// oneLine returns s as one line of at most n bytes of valid UTF-8: control
// characters (newlines, terminal escapes) become spaces.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}

// firstLine returns the first line of data as oneLine does.
func firstLine(data []byte, n int) string {
	s := strings.TrimSpace(string(data))
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return oneLine(s, n)
}
