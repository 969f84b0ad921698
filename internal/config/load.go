package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Load reads the configuration file at path with Parse, expanding ${VAR}
// references from the process environment.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes one YAML document over Default() and validates the result,
// expanding ${VAR} references from the process environment. See
// ParseWithEnv.
func Parse(data []byte) (Config, error) {
	return ParseWithEnv(data, os.LookupEnv)
}

// ParseWithEnv decodes one YAML document over Default() and validates the
// result. Omitted keys keep their defaults; an empty document is the
// defaults. Decoding is strict: unknown keys, duplicate keys, values of the
// wrong type, durations without a unit and several documents in one file are
// errors.
//
// In every value (not in keys or comments), ${NAME} is replaced by the
// variable NAME as lookup returns it and $$ by a single $; an unset variable
// is an error. A nil lookup treats every variable as unset. Expansion happens
// after the YAML structure is parsed, so a variable's value is always exactly
// one value and cannot inject YAML; an unquoted reference is then typed as if
// its value had been written in its place, so "max_conns: ${PG_CONNS}" is an
// integer.
//
// On failure the error is an Errors holding every problem found, each a
// *FieldError with its key path and, where known, its line. Decode problems
// and validation problems are reported together, except that a validation
// problem at, above or below a key whose value could not be decoded is left
// out: it is most likely a consequence (an unset ${VAR} in dsn would also
// make "exactly one of dsn and dsn_file" fail).
func ParseWithEnv(data []byte, lookup LookupFunc) (Config, error) {
	cfg := Default()
	root, err := parseDocument(data)
	if err != nil {
		return Config{}, err
	}
	d := newDecoder(lookup, len(data))
	if root != nil {
		d.value(root, reflect.ValueOf(&cfg).Elem(), "")
	}
	var p problems
	p.errs = d.errs
	if verr := cfg.Validate(); verr != nil {
		var list Errors
		errors.As(verr, &list)
		for _, e := range list {
			fe, ok := e.(*FieldError)
			if !ok {
				p.errs = append(p.errs, e)
				continue
			}
			if d.failedUnder(fe.Path) {
				continue
			}
			if fe.Line == 0 {
				fe.Line = d.lineOf(fe.Path)
			}
			p.errs = append(p.errs, fe)
		}
	}
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseDocument parses data into its single document's top node, or nil for
// an empty document.
func parseDocument(data []byte) (node *yaml.Node, err error) {
	// A panic inside the YAML library is a bug there, but a configuration
	// checker must report it rather than crash.
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, Errors{&FieldError{Err: fmt.Errorf("parse yaml: internal error: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{yamlError(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Errors{yamlError(err)}
	default:
		return nil, Errors{&FieldError{Line: next.Line, Err: errors.New("a second YAML document starts here; the file must hold exactly one")}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into a FieldError carrying its line.
func yamlError(err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &FieldError{Err: fmt.Errorf("parse yaml: %w", err)}
	}
	line, _ := strconv.Atoi(m[1])
	return &FieldError{Line: line, Err: errors.New(m[2])}
}
