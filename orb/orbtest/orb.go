// Package orbtest runs a packed orb's commands and jobs in bash the way
// CircleCI runs a job's steps, so tests can check what a user's job would do:
// parameters are type-checked and substituted, << pipeline.* >> values are
// filled in, \<< (how a packed orb writes a literal <<) becomes << and a
// bare << is refused, nested orb commands and when/unless steps are expanded, each
// run step gets its environment, shell and working directory, $BASH_ENV
// carries exports from one step to the next, `when:` decides which steps run
// after a failure, and store_test_results/store_artifacts record what would
// be uploaded. It also builds release archives and serves them on loopback
// (release.go) and validates YAML against CircleCI's config schema
// (schema.go).
//
// save_cache and restore_cache work on a Cache that jobs can share
// (cache.go), keys rendered from CircleCI's templates.
//
// What it does not emulate: executors (steps run on the host), checkout and
// workspaces (recorded as skipped), background run steps and
// no_output_timeout.
package orbtest

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Orb is a packed orb.
type Orb struct {
	Description string
	Commands    map[string]*Definition
	Jobs        map[string]*Definition
	Executors   map[string]*Definition
	Examples    map[string]*Example
}

// Definition is a command, job or executor.
type Definition struct {
	Name        string
	Description string
	Parameters  map[string]*Parameter
	Steps       []any          // commands and jobs
	Raw         map[string]any // the whole definition as parsed
}

// Parameter is one declared parameter.
type Parameter struct {
	Name        string
	Type        string // string, boolean, integer, enum, env_var_name, steps, executor
	Default     any
	HasDefault  bool
	Description string
	Enum        []string
}

// Example is one orb example.
type Example struct {
	Name        string
	Description string
	Usage       map[string]any
}

// Parse reads a packed orb.
func Parse(packed []byte) (*Orb, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(packed, &raw); err != nil {
		return nil, fmt.Errorf("orb: %w", err)
	}
	o := &Orb{
		Commands:  map[string]*Definition{},
		Jobs:      map[string]*Definition{},
		Executors: map[string]*Definition{},
		Examples:  map[string]*Example{},
	}
	o.Description, _ = raw["description"].(string)
	for section, dst := range map[string]map[string]*Definition{"commands": o.Commands, "jobs": o.Jobs, "executors": o.Executors} {
		defs, err := mapping(raw[section], section)
		if err != nil {
			return nil, err
		}
		for name, v := range defs {
			d, err := parseDefinition(section+"."+name, v)
			if err != nil {
				return nil, err
			}
			d.Name = name
			dst[name] = d
		}
	}
	exs, err := mapping(raw["examples"], "examples")
	if err != nil {
		return nil, err
	}
	for name, v := range exs {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("examples.%s: want a mapping", name)
		}
		e := &Example{Name: name}
		e.Description, _ = m["description"].(string)
		e.Usage, _ = m["usage"].(map[string]any)
		o.Examples[name] = e
	}
	return o, nil
}

func mapping(v any, where string) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping, got %T", where, v)
	}
	return m, nil
}

func parseDefinition(where string, v any) (*Definition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping, got %T", where, v)
	}
	d := &Definition{Raw: m, Parameters: map[string]*Parameter{}}
	d.Description, _ = m["description"].(string)
	if s, ok := m["steps"]; ok {
		if d.Steps, ok = s.([]any); !ok {
			return nil, fmt.Errorf("%s.steps: want a list", where)
		}
	}
	params, err := mapping(m["parameters"], where+".parameters")
	if err != nil {
		return nil, err
	}
	for name, pv := range params {
		pm, ok := pv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.parameters.%s: want a mapping", where, name)
		}
		p := &Parameter{Name: name}
		p.Type, _ = pm["type"].(string)
		p.Description, _ = pm["description"].(string)
		p.Default, p.HasDefault = pm["default"]
		if e, ok := pm["enum"].([]any); ok {
			for _, x := range e {
				p.Enum = append(p.Enum, fmt.Sprint(x))
			}
		}
		d.Parameters[name] = p
	}
	return d, nil
}

// ParameterNames returns the definition's parameter names, sorted.
func (d *Definition) ParameterNames() []string {
	names := make([]string, 0, len(d.Parameters))
	for n := range d.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Bind checks args against the declared parameters as CircleCI does when it
// compiles a config (unknown argument, missing required one, wrong type) and
// returns every parameter's value, defaults filled in.
func (d *Definition) Bind(args map[string]any) (map[string]any, error) {
	var errs []error
	for name := range args {
		if _, ok := d.Parameters[name]; !ok {
			errs = append(errs, fmt.Errorf("%s: unknown argument %q", d.Name, name))
		}
	}
	vals := map[string]any{}
	for _, name := range d.ParameterNames() {
		p := d.Parameters[name]
		v, given := args[name]
		if !given {
			if !p.HasDefault {
				errs = append(errs, fmt.Errorf("%s: argument %q is required", d.Name, name))
				continue
			}
			v = p.Default
		}
		if err := p.check(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: argument %q: %w", d.Name, name, err))
			continue
		}
		vals[name] = v
	}
	return vals, errors.Join(errs...)
}

func (p *Parameter) check(v any) error {
	switch p.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("expected type string, got %v (%T); quote it", v, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("expected type boolean, got %v (%T)", v, v)
		}
	case "integer":
		if _, ok := v.(int); !ok {
			return fmt.Errorf("expected type integer, got %v (%T)", v, v)
		}
	case "enum":
		s, ok := v.(string)
		if !ok || !contains(p.Enum, s) {
			return fmt.Errorf("expected one of %v, got %v", p.Enum, v)
		}
	case "env_var_name":
		s, ok := v.(string)
		if !ok || !envNameRe.MatchString(s) {
			return fmt.Errorf("expected an environment variable name, got %v", v)
		}
	case "steps":
		if _, ok := v.([]any); !ok && v != nil {
			return fmt.Errorf("expected a list of steps, got %T", v)
		}
	case "executor":
		// Executors are not emulated; any value is accepted.
	default:
		return fmt.Errorf("unknown parameter type %q", p.Type)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Text renders a parameter value as CircleCI substitutes it into a string.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

var (
	refRe      = regexp.MustCompile(`<<\s*(parameters|pipeline)\.([A-Za-z0-9_.-]+)\s*>>`)
	wholeRefRe = regexp.MustCompile(`^\s*<<\s*(parameters|pipeline)\.([A-Za-z0-9_.-]+)\s*>>\s*$`)
)

// escapedOpen is how config 2.1 writes a literal "<<" (circleci orb pack
// writes every "<<" of an included script so); compiling turns it into "<<".
const escapedOpen = `\<<`

// substitute returns a copy of v with << parameters.x >> and
// << pipeline.x >> replaced, and \<< turned into a literal <<, as CircleCI
// compiles a config. A string that is only a reference takes the value
// itself (a boolean stays a boolean, a steps list stays a list). A "<<"
// that is neither escaped nor a reference is an error, as it is for
// CircleCI.
func substitute(v any, params map[string]any, pipeline map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		if m := wholeRefRe.FindStringSubmatch(x); m != nil {
			return lookupRef(m[1], m[2], params, pipeline)
		}
		parts := strings.Split(x, escapedOpen)
		for i, part := range parts {
			if strings.Contains(part, "<<#") || strings.Contains(part, "<<^") {
				return nil, fmt.Errorf("conditional template blocks are not supported: %q", x)
			}
			if strings.Contains(refRe.ReplaceAllString(part, ""), "<<") {
				return nil, fmt.Errorf("unescaped << in %q: CircleCI reads << as the start of a << parameters.x >> reference; write \\<< for a literal <<", firstLine(x))
			}
			var err error
			parts[i] = refRe.ReplaceAllStringFunc(part, func(ref string) string {
				m := refRe.FindStringSubmatch(ref)
				val, e := lookupRef(m[1], m[2], params, pipeline)
				if e != nil && err == nil {
					err = e
				}
				return Text(val)
			})
			if err != nil {
				return nil, err
			}
		}
		return strings.Join(parts, "<<"), nil
	case []any:
		out := make([]any, 0, len(x))
		for _, item := range x {
			s, err := substitute(item, params, pipeline)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			s, err := substitute(item, params, pipeline)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	}
	return v, nil
}

func lookupRef(kind, name string, params map[string]any, pipeline map[string]string) (any, error) {
	if kind == "parameters" {
		v, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("<< parameters.%s >> is not a declared parameter", name)
		}
		return v, nil
	}
	v, ok := pipeline[name]
	if !ok {
		return nil, fmt.Errorf("<< pipeline.%s >> has no value; set it in Job.Pipeline", name)
	}
	return v, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
