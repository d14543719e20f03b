package apitest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Subset extracts from a whole OpenAPI file the listed paths (every
// operation) and every component they reference, value for value, with the
// header and security schemes, as indented JSON with sorted keys. An
// x-subset member names the source file and its SHA-256. Stand-ins embed
// a subset when kin-openapi would take seconds to load the whole file under
// the race detector; a test keeps the subset equal to Subset(whole file).
func Subset(full []byte, source string, paths []string) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(full))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	allPaths, _ := doc["paths"].(map[string]any)
	comps, _ := doc["components"].(map[string]any)
	out := map[string]any{}
	for _, k := range []string{"openapi", "info", "servers", "security", "tags"} {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	keptPaths := map[string]any{}
	keptComps := map[string]map[string]any{}
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				if !strings.HasPrefix(ref, "#/components/") || len(parts) < 2 {
					return fmt.Errorf("reference %s is not to a component", ref)
				}
				kind, name := parts[0], parts[1]
				if keptComps[kind] == nil {
					keptComps[kind] = map[string]any{}
				}
				if _, done := keptComps[kind][name]; !done {
					group, _ := comps[kind].(map[string]any)
					c, ok := group[name]
					if !ok {
						return fmt.Errorf("reference %s does not resolve", ref)
					}
					keptComps[kind][name] = c
					if err := walk(c); err != nil {
						return err
					}
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if err := walk(x[k]); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, p := range paths {
		item, ok := allPaths[p]
		if !ok {
			return nil, fmt.Errorf("path %s is not in %s", p, source)
		}
		keptPaths[p] = item
		if err := walk(item); err != nil {
			return nil, err
		}
	}
	if schemes, ok := comps["securitySchemes"]; ok {
		if keptComps["securitySchemes"] == nil {
			keptComps["securitySchemes"] = map[string]any{}
		}
		for k, v := range schemes.(map[string]any) {
			keptComps["securitySchemes"][k] = v
		}
	}
	out["paths"] = keptPaths
	cs := map[string]any{}
	for k, v := range keptComps {
		cs[k] = v
	}
	out["components"] = cs
	sum := sha256.Sum256(full)
	out["x-subset"] = map[string]any{"source": source, "sha256": hex.EncodeToString(sum[:]), "paths": paths}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
