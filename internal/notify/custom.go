package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// rawVars are variables whose values are Slack markup by design (the
// mentions setting), so they are inserted without escaping.
var rawVars = map[string]bool{"SLACK_PARAM_MENTIONS": true, "PMGUARD_MENTIONS": true}

// ParseCustom turns a custom template into a message: Block Kit JSON in the
// CircleCI slack orb's format (an object with "blocks" and optionally "text"
// and "attachments", or a bare array of blocks) with $VAR and ${VAR} expanded
// by lookup.
//
// The template is parsed first and variables are expanded inside its string
// values, so a value holding quotes, newlines, backslashes, "*" or "$(...)"
// stays one JSON string: it can neither break the message nor run anything.
// Values are escaped for mrkdwn (&, <, >) except in URLs, in plain_text
// objects and for the mentions variables, which are markup on purpose.
func ParseCustom(tmpl []byte, lookup func(string) string) (Message, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(tmpl))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Message{}, nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if dec.More() {
		return Message{}, nil, fmt.Errorf("not valid JSON: more than one value")
	}
	var notes []string
	var top map[string]any
	switch d := doc.(type) {
	case []any:
		top = map[string]any{"blocks": d}
	case map[string]any:
		top = d
	default:
		return Message{}, nil, fmt.Errorf("must be a JSON object with \"blocks\" or an array of blocks")
	}
	var ignored []string
	for k := range top {
		if k != "blocks" && k != "text" && k != "attachments" {
			ignored = append(ignored, k)
		}
	}
	sort.Strings(ignored)
	if len(ignored) > 0 {
		notes = append(notes, fmt.Sprintf("custom template: ignored key(s) %s (the channel comes from the channel setting)", strings.Join(ignored, ", ")))
	}

	expanded := expandValues(top, "", false, lookup).(map[string]any)
	var m Message
	if t, ok := expanded["text"]; ok {
		s, isStr := t.(string)
		if !isStr {
			return Message{}, nil, fmt.Errorf("\"text\" must be a string")
		}
		m.Text = s
	}
	var err error
	if m.Blocks, err = objects(expanded, "blocks", "block"); err != nil {
		return Message{}, nil, err
	}
	for i, b := range m.Blocks {
		t, _ := b["type"].(string)
		if t == "" {
			return Message{}, nil, fmt.Errorf("block %d has no \"type\"", i+1)
		}
		if !blockTypes[t] {
			return Message{}, nil, fmt.Errorf("block %d has type %q, which is not a Block Kit block (%s)", i+1, t, strings.Join(slices.Sorted(maps.Keys(blockTypes)), ", "))
		}
	}
	if m.Attachments, err = objects(expanded, "attachments", "attachment"); err != nil {
		return Message{}, nil, err
	}
	if len(m.Blocks) == 0 && len(m.Attachments) == 0 && strings.TrimSpace(m.Text) == "" {
		return Message{}, nil, fmt.Errorf("has no blocks, attachments or text")
	}
	return m, notes, nil
}

// blockTypes are Block Kit's message blocks; Slack refuses a message with
// any other (invalid_blocks), so a typo is bad input here instead.
var blockTypes = map[string]bool{
	"actions": true, "context": true, "divider": true, "file": true, "header": true, "image": true,
	"input": true, "markdown": true, "rich_text": true, "section": true, "video": true,
}

// objects reads the array top[key], when there is one, as a list of
// objects; what names one in errors.
func objects(top map[string]any, key, what string) ([]map[string]any, error) {
	v, ok := top[key]
	if !ok {
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		return nil, fmt.Errorf("%q must be an array", key)
	}
	var out []map[string]any
	for i, item := range list {
		obj, isObj := item.(map[string]any)
		if !isObj {
			return nil, fmt.Errorf("%s %d is not an object", what, i+1)
		}
		out = append(out, obj)
	}
	return out, nil
}

// expandValues walks a parsed template and expands variables in string
// values; key is the value's key in its object, plainText whether the
// enclosing object is a plain_text text object.
func expandValues(v any, key string, plainText bool, lookup func(string) string) any {
	switch t := v.(type) {
	case map[string]any:
		isPlain := t["type"] == "plain_text"
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = expandValues(val, k, isPlain, lookup)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = expandValues(val, key, plainText, lookup)
		}
		return out
	case string:
		escape := !plainText && !isURLKey(key)
		return expandVars(t, func(name string) string {
			val := lookup(name)
			if escape && !rawVars[name] {
				val = escapeText(val)
			}
			return val
		})
	case json.Number:
		// Keep numbers as written (UseNumber) so 1700000000 stays exact.
		return t
	default:
		return v
	}
}

func isURLKey(k string) bool { return k == "url" || strings.HasSuffix(k, "_url") }

// expandVars replaces $NAME and ${NAME} (NAME: a letter or _, then letters,
// digits, _) with value(NAME). Anything else, "$(cmd)", "$1", a lone "$" or an
// unclosed "${", is left as written: nothing is ever evaluated.
func expandVars(s string, value func(string) string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end >= 0 && isName(s[i+2:i+2+end]) {
				b.WriteString(value(s[i+2 : i+2+end]))
				i += end + 3
				continue
			}
			b.WriteByte(c)
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isNameByte(s[j], j == i+1) {
			j++
		}
		if j == i+1 {
			b.WriteByte(c)
			i++
			continue
		}
		b.WriteString(value(s[i+1 : j]))
		i = j
	}
	return b.String()
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || !first && c >= '0' && c <= '9'
}
