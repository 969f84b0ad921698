package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// PostgresDSN returns the PostgreSQL connection string: the content of
// storage.postgres.dsn_file, trimmed of surrounding white space, when it is
// set, else storage.postgres.dsn. The file is read on every call, so a
// rotated password is picked up by the next connection attempt.
func (c *Config) PostgresDSN() (string, error) {
	pg := c.Storage.Postgres
	switch {
	case pg.DSN != "" && pg.DSNFile != "":
		return "", errors.New("storage.postgres: both dsn and dsn_file are set")
	case pg.DSNFile != "":
		b, err := os.ReadFile(pg.DSNFile)
		if err != nil {
			return "", fmt.Errorf("read storage.postgres.dsn_file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("read storage.postgres.dsn_file: %s is empty", pg.DSNFile)
		}
		return dsn, nil
	case pg.DSN != "":
		return pg.DSN, nil
	default:
		return "", errors.New("storage.postgres: neither dsn nor dsn_file is set")
	}
}

// Hash returns the SHA-256 of the token: of the content of token_file,
// trimmed of surrounding white space, or the decoded sha256. The plaintext
// token read from the file is hashed and wiped; it is never returned or kept.
func (t TokenConfig) Hash() ([32]byte, error) {
	var h [32]byte
	switch {
	case t.TokenFile != "" && t.SHA256 != "":
		return h, fmt.Errorf("token %q: both token_file and sha256 are set", t.Name)
	case t.TokenFile != "":
		b, err := os.ReadFile(t.TokenFile)
		if err != nil {
			return h, fmt.Errorf("token %q: read token_file: %w", t.Name, err)
		}
		defer clear(b)
		tok := bytes.TrimSpace(b)
		if len(tok) == 0 {
			return h, fmt.Errorf("token %q: token_file %s is empty", t.Name, t.TokenFile)
		}
		return sha256.Sum256(tok), nil
	case t.SHA256 != "":
		b, err := hex.DecodeString(strings.TrimSpace(t.SHA256))
		if err != nil {
			return h, fmt.Errorf("token %q: decode sha256: %w", t.Name, err)
		}
		if len(b) != len(h) {
			return h, fmt.Errorf("token %q: decode sha256: got %d bytes, want %d", t.Name, len(b), len(h))
		}
		copy(h[:], b)
		return h, nil
	default:
		return h, fmt.Errorf("token %q: neither token_file nor sha256 is set", t.Name)
	}
}
