package orbtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/internal/testspecs"
)

// SchemaPath is CircleCI's config schema (JSON Schema draft-07) in the
// module root root, vendored with its provenance in testdata/specs (see
// testdata/specs/SOURCES.md).
func SchemaPath(root string) string {
	return filepath.Join(root, filepath.FromSlash(testspecs.Dir), "circleci-config.schema.json")
}

// Schema validates CircleCI config and packed orbs.
type Schema struct {
	s *jsonschema.Schema
}

// LoadSchema compiles the schema file at path.
func LoadSchema(path string) (*Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	url := "file://" + filepath.ToSlash(path)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	return &Schema{s: s}, nil
}

// ValidateYAML validates a YAML document.
func (s *Schema) ValidateYAML(b []byte) error {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return err
	}
	return s.Validate(v)
}

// Validate validates a decoded YAML value (maps, lists, scalars).
func (s *Schema) Validate(v any) error {
	// JSON is the schema's data model: a round trip turns YAML's values
	// into what the validator expects (json.Number, map[string]any).
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("not representable as JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return s.s.Validate(doc)
}
