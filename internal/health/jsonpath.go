package health

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// pathStep is one key or array index of a --json-path.
type pathStep struct {
	key   string
	index int // used when key is ""
}

// parsePath parses paths such as "status", "$.checks.db.status" or
// "items[0].state". It is deliberately small: health bodies are shallow.
func parsePath(p string) ([]pathStep, error) {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "$"), ".")
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	var steps []pathStep
	for _, part := range strings.Split(p, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			steps = append(steps, pathStep{key: key})
		} else if rest == "" {
			return nil, fmt.Errorf("empty key in %q", p)
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("bad index in %q", p)
			}
			steps = append(steps, pathStep{index: n})
			if after == "" {
				break
			}
			if !strings.HasPrefix(after, "[") {
				return nil, fmt.Errorf("unexpected %q in %q", after, p)
			}
			rest = after[1:]
		}
	}
	return steps, nil
}

// lookupJSON returns the value at path in doc, as text: strings as they are,
// other values as JSON.
func lookupJSON(doc any, path []pathStep) (string, bool) {
	cur := doc
	for _, s := range path {
		switch v := cur.(type) {
		case map[string]any:
			if s.key == "" {
				return "", false
			}
			next, ok := v[s.key]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			if s.key != "" || s.index >= len(v) {
				return "", false
			}
			cur = v[s.index]
		default:
			return "", false
		}
	}
	if str, ok := cur.(string); ok {
		return str, true
	}
	b, _ := json.Marshal(cur)
	return string(b), true
}
