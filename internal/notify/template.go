package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// The webhook body is a text/template whose every interpolation is written
// as a JSON value. Like html/template's escaper, parseBodyTemplate rewrites
// the parsed tree: each action that prints ({{ .Incident.Title }},
// {{ index .Incident.Labels "service" }}) gets "| json" appended, so its
// result is marshalled — a string is quoted and escaped, a map becomes an
// object. A label value such as `", "admin": true, "x": "` therefore stays
// one string. The rendered body must be valid JSON, or the notification
// fails as permanent.

// maxBodyBytes caps a rendered webhook body.
const maxBodyBytes = 1 << 20

// escaperName is the function appended to every printing action.
const escaperName = "json"

// bodyFuncs are the functions body templates may call: pure string helpers.
// "call" is disabled so no function value in the data can be called.
func bodyFuncs() template.FuncMap {
	return template.FuncMap{
		escaperName:  jsonValue,
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"trim":       strings.TrimSpace,
		"join":       func(sep string, v []string) string { return strings.Join(v, sep) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
		"call":       func(...any) (string, error) { return "", errors.New("call is not allowed in notification templates") },
	}
}

// jsonValue marshals v as JSON without HTML escaping.
func jsonValue(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// parseBodyTemplate parses src and makes every printing action JSON-escape
// its value.
func parseBodyTemplate(src string) (*template.Template, error) {
	t, err := template.New("body").Funcs(bodyFuncs()).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, cleanTemplateErr(err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		escapeList(tt.Tree.Root)
	}
	return t, nil
}

// escapeList appends the escaper to the printing actions under n.
func escapeList(n *parse.ListNode) {
	if n == nil {
		return
	}
	for _, c := range n.Nodes {
		switch c := c.(type) {
		case *parse.ActionNode:
			// An action that declares or assigns a variable prints nothing.
			if len(c.Pipe.Decl) > 0 || c.Pipe.IsAssign {
				continue
			}
			cmds := c.Pipe.Cmds
			if len(cmds) > 0 && isEscaper(cmds[len(cmds)-1]) {
				continue
			}
			c.Pipe.Cmds = append(cmds, &parse.CommandNode{
				NodeType: parse.NodeCommand,
				Pos:      c.Pos,
				Args:     []parse.Node{parse.NewIdentifier(escaperName).SetPos(c.Pos)},
			})
		case *parse.IfNode:
			escapeList(c.List)
			escapeList(c.ElseList)
		case *parse.RangeNode:
			escapeList(c.List)
			escapeList(c.ElseList)
		case *parse.WithNode:
			escapeList(c.List)
			escapeList(c.ElseList)
		case *parse.ListNode:
			escapeList(c)
		}
	}
}

func isEscaper(c *parse.CommandNode) bool {
	if len(c.Args) != 1 {
		return false
	}
	id, ok := c.Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == escaperName
}

// renderBody executes t for d and checks that the result is one JSON value.
func renderBody(t *template.Template, d any) ([]byte, error) {
	w := &capWriter{max: maxBodyBytes}
	if err := t.Execute(w, d); err != nil {
		return nil, fmt.Errorf("render body: %w", cleanTemplateErr(err))
	}
	body := bytes.TrimSpace(w.b.Bytes())
	if !json.Valid(body) {
		return nil, errors.New("render body: the template did not produce a JSON document")
	}
	return body, nil
}

var errBodyTooLong = fmt.Errorf("rendered body exceeds %d bytes", maxBodyBytes)

type capWriter struct {
	b   bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errBodyTooLong
	}
	return w.b.Write(p)
}

// cleanTemplateErr drops text/template's "template: body:1:2: executing"
// noise but keeps the position and cause.
func cleanTemplateErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	return errors.New(msg)
}
