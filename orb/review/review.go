// Package review checks an orb source tree (orb-tools layout) against the
// best practices of CircleCI's orb-tools review job, RC001 to RC012, with
// the same meaning (orb-tools' src/scripts/review.bats), so the project's
// own tests hold the orb to them without bats, yq or network:
//
//	RC001  @orb.yml has display.source_url
//	RC002  every command, job, executor and example has a description
//	       (pmguard also requires one on every parameter)
//	RC003  there is at least one usage example
//	RC004  example file names are descriptive: none contains "example"
//	RC005  the orb's description is detailed: 64 characters or more
//	RC006  display.source_url is a valid https URL
//	RC007  display.home_url, when set, is a valid https URL
//	RC008  every run step is a mapping with a name
//	RC009  a run command longer than MaxCommandLength is an <<include(...)>>,
//	       and no run step is in string form (counted here too)
//	RC010  command, job and executor file names and parameter names are
//	       snake_case
//	RC011  usage examples import the orb at the current major version
//	RC012  a parameter whose default reads an environment variable ($VAR)
//	       is not used in a key property (cache keys are not expanded)
//
// RC006 and RC007: orb-tools requests the URL and wants a 200; tests here run
// without network, so the URL is checked for form only (absolute https with
// a host).
//
// RC011: orb-tools checks only on a release tag (CIRCLE_TAG vX.Y.Z), against
// the tag's major version, reading each example's usage.orbs[orb_name].
// Without a tag, pmguard checks that every example imports the orb under
// that name, all at one major version.
package review

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/orb/pack"
)

// Finding is one review failure.
type Finding struct {
	Code    string // RC001 ... RC012
	File    string // relative to the orb source
	Line    int    // 0 when not tied to a line
	Message string
}

func (f Finding) String() string {
	where := f.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return fmt.Sprintf("%s %s: %s", f.Code, where, f.Message)
}

// Options tune the review as orb-tools' review job parameters do.
type Options struct {
	// MaxCommandLength is RC009's limit (orb-tools' default: 64).
	MaxCommandLength int
	// Orb is the orb's namespace/name, e.g. pmguard/pmguard (RC011).
	Orb string
	// Name is orb-tools' orb_name, the key examples import the orb under
	// (RC011); empty means the name part of Orb.
	Name string
	// Tag is the release tag being published (CIRCLE_TAG), e.g. v1.2.3;
	// empty outside a release (RC011).
	Tag string
	// Exclude lists codes to skip, as orb-tools' exclude parameter.
	Exclude []string
}

func (o Options) alias() string {
	if o.Name != "" {
		return o.Name
	}
	_, name, _ := strings.Cut(o.Orb, "/")
	return name
}

// DefaultMaxCommandLength is orb-tools' max_command_length default.
const DefaultMaxCommandLength = 64

var (
	snakeRe       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	releaseTagRe  = regexp.MustCompile(`^v([0-9]+)\.[0-9]+\.[0-9]+$`)
	includeRe     = regexp.MustCompile(`^<<\s*include\(`)
	paramRefRe    = regexp.MustCompile(`<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>`)
	componentDirs = []string{"commands", "jobs", "executors", "examples"}
)

type file struct {
	rel  string
	root *yaml.Node // the document's mapping
}

// Review reviews the orb source in dir and returns every finding, sorted.
func Review(dir string, o Options) ([]Finding, error) {
	if o.MaxCommandLength == 0 {
		o.MaxCommandLength = DefaultMaxCommandLength
	}
	r := &reviewer{dir: dir, o: o, skip: map[string]bool{}}
	for _, c := range o.Exclude {
		r.skip[strings.TrimSpace(c)] = true
	}
	orb, err := r.load("@orb.yml")
	if err != nil {
		return nil, err
	}
	sections := map[string][]file{}
	for _, s := range componentDirs {
		paths, err := filepath.Glob(filepath.Join(dir, s, "*.y*ml"))
		if err != nil {
			return nil, err
		}
		sort.Strings(paths)
		for _, p := range paths {
			rel, _ := filepath.Rel(dir, p)
			f, err := r.load(rel)
			if err != nil {
				return nil, err
			}
			sections[s] = append(sections[s], f)
		}
	}
	r.display(orb)
	r.descriptions(sections)
	r.examples(sections["examples"])
	r.runSteps(append(append([]file{}, sections["commands"]...), sections["jobs"]...))
	r.names(sections)
	r.envDefaults(append(append(append([]file{}, sections["commands"]...), sections["jobs"]...), sections["executors"]...))
	sort.Slice(r.out, func(i, j int) bool {
		a, b := r.out[i], r.out[j]
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return r.out, nil
}

type reviewer struct {
	dir  string
	o    Options
	skip map[string]bool
	out  []Finding
}

func (r *reviewer) add(code string, f file, line int, format string, a ...any) {
	if r.skip[code] {
		return
	}
	r.out = append(r.out, Finding{Code: code, File: f.rel, Line: line, Message: fmt.Sprintf(format, a...)})
}

func (r *reviewer) load(rel string) (file, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, rel))
	if err != nil {
		return file{}, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return file{}, fmt.Errorf("%s: %w", rel, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return file{}, fmt.Errorf("%s: want a YAML mapping", rel)
	}
	return file{rel: filepath.ToSlash(rel), root: doc.Content[0]}, nil
}

// display: RC001, RC005, RC006, RC007.
func (r *reviewer) display(orb file) {
	display := pack.Lookup(orb.root, "display")
	src := pack.Lookup(display, "source_url")
	if text(src) == "" {
		r.add("RC001", orb, line(display, orb.root), "set display.source_url in @orb.yml")
	} else if msg := badURL(text(src)); msg != "" {
		r.add("RC006", orb, src.Line, "display.source_url %q: %s", text(src), msg)
	}
	if home := pack.Lookup(display, "home_url"); home != nil {
		if msg := badURL(text(home)); msg != "" {
			r.add("RC007", orb, home.Line, "display.home_url %q: %s", text(home), msg)
		}
	}
	desc := pack.Lookup(orb.root, "description")
	if n := len(strings.TrimSpace(text(desc))); n < 64 {
		r.add("RC005", orb, line(desc, orb.root), "the orb's description has %d characters; write a detailed one (64 or more) that says what the orb solves", n)
	}
}

func badURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err.Error()
	case u.Scheme != "https":
		return "want an https:// URL"
	case u.Host == "":
		return "no host"
	}
	return ""
}

// descriptions: RC002.
func (r *reviewer) descriptions(sections map[string][]file) {
	for _, s := range componentDirs {
		for _, f := range sections[s] {
			if strings.TrimSpace(text(pack.Lookup(f.root, "description"))) == "" {
				r.add("RC002", f, 1, "no description; it documents the component in the orb registry")
			}
			params := pack.Lookup(f.root, "parameters")
			for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
				if strings.TrimSpace(text(pack.Lookup(params.Content[i+1], "description"))) == "" {
					r.add("RC002", f, params.Content[i].Line, "parameter %s has no description", params.Content[i].Value)
				}
			}
		}
	}
}

// examples: RC003, RC004, RC011.
func (r *reviewer) examples(examples []file) {
	if len(examples) == 0 {
		r.add("RC003", file{rel: "examples"}, 0, "no usage example; add examples/*.yml for the orb's use cases")
	}
	want := ""
	if m := releaseTagRe.FindStringSubmatch(r.o.Tag); m != nil {
		want = m[1]
	}
	majors := map[string][]string{}
	for _, f := range examples {
		if strings.Contains(strings.ToLower(filepath.Base(f.rel)), "example") {
			r.add("RC004", f, 0, "the file name contains \"example\"; name the use case instead")
		}
		if r.o.Orb == "" {
			continue
		}
		// orb-tools reads usage.orbs[orb_name]: the orb must be imported
		// under its own name, whatever other aliases an example adds.
		name := r.o.alias()
		v := pack.Lookup(pack.Lookup(pack.Lookup(f.root, "usage"), "orbs"), name)
		if v == nil {
			r.add("RC011", f, 0, "usage does not import the orb as orbs.%s (orb-tools looks it up under the orb's name)", name)
			continue
		}
		ref, at := text(v), v.Line
		if !strings.HasPrefix(ref, r.o.Orb+"@") {
			r.add("RC011", f, at, "orbs.%s is %q, not %s@<version>", name, ref, r.o.Orb)
			continue
		}
		major, _, _ := strings.Cut(strings.TrimPrefix(ref, r.o.Orb+"@"), ".")
		if want != "" && major != want {
			r.add("RC011", f, at, "imports %s; release %s is major version %s", ref, r.o.Tag, want)
		}
		majors[major] = append(majors[major], f.rel)
	}
	if want == "" && len(majors) > 1 {
		var list []string
		for m, files := range majors {
			list = append(list, fmt.Sprintf("@%s in %s", m, strings.Join(files, ", ")))
		}
		sort.Strings(list)
		r.add("RC011", file{rel: "examples"}, 0, "examples import %s at different major versions: %s", r.o.Orb, strings.Join(list, "; "))
	}
}

// runSteps: RC008, RC009, for every run step at any depth (when, unless,
// steps parameters' defaults).
func (r *reviewer) runSteps(files []file) {
	for _, f := range files {
		walk(f.root, func(key, val *yaml.Node) {
			if key.Value != "run" {
				return
			}
			switch val.Kind {
			case yaml.ScalarNode:
				// orb-tools counts a run step in string form against both
				// checks, whatever its length: excluding RC008 alone does
				// not let it pass.
				r.add("RC008", f, val.Line, "run step in string form; write it as a mapping with name and command")
				r.add("RC009", f, val.Line, "run step in string form; write it as a mapping with a command (an <<include(...)>> when longer than %d characters)", r.o.MaxCommandLength)
			case yaml.MappingNode:
				if strings.TrimSpace(text(pack.Lookup(val, "name"))) == "" {
					r.add("RC008", f, val.Line, "run step without a name; the UI shows its command instead")
				}
				cmd := pack.Lookup(val, "command")
				if c := text(cmd); len(c) > r.o.MaxCommandLength && !includeRe.MatchString(c) {
					r.add("RC009", f, cmd.Line, "command of %d characters (more than %d) inline; put it in scripts/ and <<include(...)>> it", len(c), r.o.MaxCommandLength)
				}
			}
		})
	}
}

// names: RC010.
func (r *reviewer) names(sections map[string][]file) {
	for _, s := range []string{"commands", "jobs", "executors"} {
		for _, f := range sections[s] {
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f.rel), ".yml"), ".yaml")
			if !snakeRe.MatchString(name) {
				r.add("RC010", f, 0, "component name %q is not snake_case", name)
			}
			params := pack.Lookup(f.root, "parameters")
			for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
				if k := params.Content[i]; !snakeRe.MatchString(k.Value) {
					r.add("RC010", f, k.Line, "parameter name %q is not snake_case", k.Value)
				}
			}
		}
	}
}

// envDefaults: RC012.
func (r *reviewer) envDefaults(files []file) {
	for _, f := range files {
		params := pack.Lookup(f.root, "parameters")
		env := map[string]string{}
		for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
			d := text(pack.Lookup(params.Content[i+1], "default"))
			if strings.Contains(d, "$") && !strings.HasSuffix(d, "$") {
				env[params.Content[i].Value] = d
			}
		}
		if len(env) == 0 {
			continue
		}
		walk(f.root, func(key, val *yaml.Node) {
			if !strings.HasSuffix(key.Value, "key") {
				return
			}
			walkScalars(val, func(s *yaml.Node) {
				for _, m := range paramRefRe.FindAllStringSubmatch(s.Value, -1) {
					if d, ok := env[m[1]]; ok {
						r.add("RC012", f, s.Line, "parameter %s defaults to %q, an environment variable, and is used in key property %q, where variables are not expanded", m[1], d, key.Value)
					}
				}
			})
		})
	}
}

// walk calls fn for every key/value pair of every mapping under n.
func walk(n *yaml.Node, fn func(key, val *yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			fn(n.Content[i], n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		walk(c, fn)
	}
}

func walkScalars(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		fn(n)
	}
	for _, c := range n.Content {
		walkScalars(c, fn)
	}
}

func text(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func line(n, fallback *yaml.Node) int {
	if n != nil {
		return n.Line
	}
	return fallback.Line
}
