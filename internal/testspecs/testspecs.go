// Package testspecs finds the vendor API specs the test stand-ins validate
// against. They are vendored at testdata/specs/ in the module root (the
// directory holding go.mod), each pinned in testdata/specs/SOURCES.md by
// source, commit, licence, size and SHA-256, so a plain clone runs every
// test without anything beside it.
package testspecs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dir is where the specs live, relative to the module root.
const Dir = "testdata/specs"

// ModuleRoot returns the nearest directory at or above the working
// directory that holds go.mod (go test runs each package in its own
// directory, inside the module).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Path returns the path of the vendored spec name (e.g.
// "circleci-api-v2.openapi.json") and fails when it is not there.
func Path(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, filepath.FromSlash(Dir), name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("vendored spec %s missing (see %s/SOURCES.md): %w", name, Dir, err)
	}
	return p, nil
}

// Read returns the content of the vendored spec name.
func Read(name string) ([]byte, error) {
	p, err := Path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}
