package slacktest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The methods the stand-in serves, and so the part of Slack's Web API spec
// (slackapi/slack-api-specs, web-api/slack_web_openapi_v2.json, Swagger 2.0,
// 2021-09-07) kept beside it. TestSpecSubset checks the subset against the
// whole file vendored in testdata/specs at the module root, and -update-spec
// rewrites it.
var Methods = []string{
	"auth.test",
	"chat.getPermalink",
	"chat.postMessage",
	"chat.scheduleMessage",
	"chat.scheduledMessages.list",
	"chat.update",
	"conversations.create",
	"conversations.invite",
	"conversations.history",
	"conversations.list",
	"conversations.replies",
	"conversations.setTopic",
	"pins.list",
	"users.lookupByEmail",
}

//go:embed slack-web-api.subset.json
var subsetJSON []byte

// newerThanSpec lists what Slack (and slack-go) use that the 2021 snapshot
// does not describe; the stand-in accepts these without reporting a
// violation.
var newerThanSpec = map[string]bool{
	"error:chat.scheduleMessage:restricted_too_many":   true, // documented on api.slack.com, not in the snapshot
	"error:chat.postMessage:invalid_blocks":            true, // ditto
	"error:chat.update:invalid_blocks":                 true,
	"error:chat.scheduleMessage:invalid_blocks":        true,
	"error:chat.postMessage:missing_scope":             true, // every method can answer it
	"error:chat.update:missing_scope":                  true,
	"error:chat.postMessage:ratelimited":               true,
	"param:conversations.create:team_id":               true, // Enterprise Grid
	"param:conversations.replies:include_all_metadata": true, // slack-go sends it; newer than the snapshot
	"param:conversations.history:include_all_metadata": true,
	// Message metadata (2022): posted with a message, kept by chat.update
	// unless replaced, returned by conversations.history on request.
	"param:chat.postMessage:metadata":                         true,
	"param:chat.update:metadata":                              true,
	"error:chat.postMessage:invalid_metadata_format":          true,
	"error:chat.postMessage:invalid_metadata_schema":          true,
	"error:chat.postMessage:metadata_too_large":               true,
	"error:conversations.history:not_in_channel":              true, // a bot reads only channels it is in
	"prop:conversations.history response.messages[].metadata": true,
	"prop:conversations.replies response.messages[].metadata": true,
	"prop:conversations.replies response.messages[].blocks":   true, // a message posted with blocks is read with them
	"prop:conversations.history response.response_metadata":   true, // cursor pagination, as conversations.replies has
	"minItems:conversations.history response.messages":        true, // an empty channel has no messages
}

// arrayIndex is an item's index in a validation path, for naming every
// item of an array at once in newerThanSpec.
var arrayIndex = regexp.MustCompile(`\[\d+\]`)

// Spec validates requests and responses against the subset.
type Spec struct {
	doc         map[string]any
	definitions map[string]any
	reCache     sync.Map
}

// LoadSpec parses the embedded subset.
func LoadSpec() (*Spec, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(subsetJSON))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("slack spec subset: %w", err)
	}
	defs, _ := doc["definitions"].(map[string]any)
	return &Spec{doc: doc, definitions: defs}, nil
}

// Subset extracts from the full spec the paths of methods and every
// definition they reference, as indented JSON with sorted keys.
func Subset(full []byte, methods []string) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(full))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	defs, _ := doc["definitions"].(map[string]any)
	outPaths := map[string]any{}
	outDefs := map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if k == "$ref" {
					name := strings.TrimPrefix(fmt.Sprint(x), "#/definitions/")
					if _, seen := outDefs[name]; !seen {
						outDefs[name] = defs[name]
						walk(defs[name])
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	for _, m := range methods {
		p, ok := paths["/"+m]
		if !ok {
			return nil, fmt.Errorf("method %s is not in the spec", m)
		}
		outPaths["/"+m] = p
		walk(p)
	}
	out := map[string]any{
		"swagger": doc["swagger"], "info": doc["info"], "host": doc["host"], "basePath": doc["basePath"],
		"paths": outPaths, "definitions": outDefs,
	}
	return json.MarshalIndent(out, "", " ")
}

func (s *Spec) operation(method string) (map[string]any, bool) {
	paths, _ := s.doc["paths"].(map[string]any)
	p, ok := paths["/"+method].(map[string]any)
	if !ok {
		return nil, false
	}
	for _, verb := range []string{"post", "get"} {
		if op, ok := p[verb].(map[string]any); ok {
			return op, true
		}
	}
	return nil, false
}

// CheckRequest validates a call's parameters: every name declared, every
// required one present, booleans and numbers well-formed, a content type the
// method consumes. hasToken says whether a token came in a header.
func (s *Spec) CheckRequest(method, contentType string, params url.Values, hasToken bool) []string {
	op, ok := s.operation(method)
	if !ok {
		return []string{method + ": not in the spec"}
	}
	var out []string
	if contentType != "" {
		ct, _, _ := strings.Cut(contentType, ";")
		if consumes, ok := op["consumes"].([]any); ok && !containsAny(consumes, strings.TrimSpace(ct)) {
			out = append(out, fmt.Sprintf("%s: content type %q is not one the method consumes %v", method, ct, consumes))
		}
	}
	declared := map[string]map[string]any{}
	for _, raw := range list(op["parameters"]) {
		p, _ := raw.(map[string]any)
		declared[fmt.Sprint(p["name"])] = p
	}
	for name, vals := range params {
		p, ok := declared[name]
		if !ok {
			if !newerThanSpec["param:"+method+":"+name] {
				out = append(out, fmt.Sprintf("%s: parameter %q is not in the spec", method, name))
			}
			continue
		}
		for _, v := range vals {
			if msg := checkParamType(p, v); msg != "" {
				out = append(out, fmt.Sprintf("%s: parameter %q=%q: %s", method, name, v, msg))
			}
		}
	}
	for name, p := range declared {
		if req, _ := p["required"].(bool); !req {
			continue
		}
		if name == "token" && hasToken {
			continue
		}
		if _, ok := params[name]; !ok {
			out = append(out, fmt.Sprintf("%s: required parameter %q missing", method, name))
		}
	}
	sort.Strings(out)
	return out
}

func checkParamType(p map[string]any, v string) string {
	switch p["type"] {
	case "boolean":
		if v != "true" && v != "false" && v != "1" && v != "0" {
			return "not a boolean"
		}
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "not an integer"
		}
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "not a number"
		}
	}
	return ""
}

// CheckResponse validates a response body against the method's success
// schema (ok: true) or its error schema.
func (s *Spec) CheckResponse(method string, body []byte) []string {
	op, ok := s.operation(method)
	if !ok {
		return []string{method + ": not in the spec"}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return []string{method + ": response is not JSON"}
	}
	responses, _ := op["responses"].(map[string]any)
	which := "200"
	if m, _ := doc.(map[string]any); m != nil && m["ok"] == false {
		which = "default"
		if code, _ := m["error"].(string); newerThanSpec["error:"+method+":"+code] {
			return nil
		}
	}
	resp, _ := responses[which].(map[string]any)
	sch, _ := resp["schema"].(map[string]any)
	if sch == nil {
		return nil
	}
	var errs []string
	s.validate(doc, sch, method+" response", &errs)
	return errs
}

// validate checks v against a Swagger 2.0 schema: $ref, type (one or a
// list), enum, pattern, required, properties, additionalProperties, items,
// minItems, allOf/anyOf/oneOf, and the spec's habit of writing alternatives
// as a list under "items" on a schema without a type.
func (s *Spec) validate(v any, sch map[string]any, path string, errs *[]string) {
	if ref, ok := sch["$ref"].(string); ok {
		def, _ := s.definitions[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
		if def == nil {
			*errs = append(*errs, path+": unresolved "+ref)
			return
		}
		s.validate(v, def, path, errs)
		return
	}
	if alts, ok := sch["items"].([]any); ok && sch["type"] == nil {
		s.anyOf(v, alts, path, errs)
		return
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts, ok := sch[key].([]any); ok {
			s.anyOf(v, alts, path, errs)
		}
	}
	for _, a := range list(sch["allOf"]) {
		if am, ok := a.(map[string]any); ok {
			s.validate(v, am, path, errs)
		}
	}
	if t, ok := sch["type"]; ok && !typeMatches(v, t) {
		*errs = append(*errs, fmt.Sprintf("%s: %s is not of type %v", path, short(v), t))
		return
	}
	if enum, ok := sch["enum"].([]any); ok && !containsValue(enum, v) {
		*errs = append(*errs, fmt.Sprintf("%s: %s is not one of %v", path, short(v), enum))
	}
	switch t := v.(type) {
	case string:
		if pat, ok := sch["pattern"].(string); ok {
			if re := s.regexp(pat); re != nil && !re.MatchString(t) {
				*errs = append(*errs, fmt.Sprintf("%s: %q does not match %s", path, t, pat))
			}
		}
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		for _, r := range list(sch["required"]) {
			if _, ok := t[fmt.Sprint(r)]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s: required %q missing", path, r))
			}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				s.validate(t[k], ps, path+"."+k, errs)
				continue
			}
			switch ap := sch["additionalProperties"].(type) {
			case bool:
				if !ap && !newerThanSpec["prop:"+arrayIndex.ReplaceAllString(path, "[]")+"."+k] {
					*errs = append(*errs, fmt.Sprintf("%s: property %q is not allowed", path, k))
				}
			case map[string]any:
				s.validate(t[k], ap, path+"."+k, errs)
			}
		}
	case []any:
		if n, ok := sch["minItems"].(json.Number); ok {
			if min, _ := n.Int64(); int64(len(t)) < min && !newerThanSpec["minItems:"+arrayIndex.ReplaceAllString(path, "[]")] {
				*errs = append(*errs, fmt.Sprintf("%s: fewer than %d items", path, min))
			}
		}
		if is, ok := sch["items"].(map[string]any); ok {
			for i, x := range t {
				s.validate(x, is, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
}

func (s *Spec) anyOf(v any, alts []any, path string, errs *[]string) {
	var firstErrs []string
	for i, a := range alts {
		am, _ := a.(map[string]any)
		var e []string
		s.validate(v, am, path, &e)
		if len(e) == 0 {
			return
		}
		if i == 0 {
			firstErrs = e
		}
	}
	*errs = append(*errs, fmt.Sprintf("%s: matches none of %d alternatives (first: %s)", path, len(alts), strings.Join(firstErrs, "; ")))
}

func (s *Spec) regexp(pat string) *regexp.Regexp {
	if re, ok := s.reCache.Load(pat); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil
	}
	s.reCache.Store(pat, re)
	return re
}

func typeMatches(v any, t any) bool {
	if ts, ok := t.([]any); ok {
		for _, x := range ts {
			if typeMatches(v, x) {
				return true
			}
		}
		return false
	}
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return true
}

func containsValue(enum []any, v any) bool {
	for _, e := range enum {
		if fmt.Sprint(e) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

func containsAny(list []any, s string) bool {
	for _, x := range list {
		if fmt.Sprint(x) == s {
			return true
		}
	}
	return false
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}
