package dora

import (
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is how one project deploys: its deploy workflow (names or globs),
// production branch, team and the clone with its commits.
type Rule struct {
	DeployWorkflow string `yaml:"deploy_workflow"`
	Branch         string `yaml:"branch"`
	Team           string `yaml:"team"`
	GitDir         string `yaml:"git_dir"`
}

// Rules is the projects file: rules per project slug (or slug glob, such as
// gh/acme/*), over defaults.
//
//	defaults: {deploy_workflow: deploy, branch: main}
//	projects:
//	  gh/acme/shop: {deploy_workflow: "deploy-*", team: payments}
//	  gh/acme/api:  {deploy_workflow: release, branch: production, team: platform}
//	  gh/acme/*:    {team: platform}
type Rules struct {
	Defaults Rule            `yaml:"defaults"`
	Projects map[string]Rule `yaml:"projects"`
}

// ReadRules reads a projects file; every key is checked.
func ReadRules(file string) (*Rules, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r Rules
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	for _, w := range workflows(r.Defaults.DeployWorkflow) {
		if !validWorkflowGlob(w) {
			return nil, fmt.Errorf("%s: defaults: deploy_workflow %q is not a valid glob", file, w)
		}
	}
	for slug, x := range r.Projects {
		if strings.Count(slug, "/") != 2 {
			return nil, fmt.Errorf("%s: project %q is not vcs/org/repo", file, slug)
		}
		if _, err := path.Match(slug, ""); err != nil {
			return nil, fmt.Errorf("%s: project %q is not a valid glob", file, slug)
		}
		for _, w := range workflows(x.DeployWorkflow) {
			if !validWorkflowGlob(w) {
				return nil, fmt.Errorf("%s: project %s: deploy_workflow %q is not a valid glob", file, slug, w)
			}
		}
	}
	return &r, nil
}

// validWorkflowGlob reports whether a deploy_workflow name or glob is well
// formed for path.Match; a malformed one would match its own name only.
func validWorkflowGlob(w string) bool {
	_, err := path.Match(w, "")
	return err == nil
}

// Named is the projects the file names exactly (not by glob).
func (r *Rules) Named() []string {
	if r == nil {
		return nil
	}
	var out []string
	for slug := range r.Projects {
		if !strings.ContainsAny(slug, "*?[") {
			out = append(out, slug)
		}
	}
	sort.Strings(out)
	return out
}

// For is the project's rule: its own entry, else the first glob that
// matches it (in name order), each over the defaults, over base.
func (r *Rules) For(slug string, base Rule) Rule {
	out := base
	if r == nil {
		return out
	}
	merge := func(x Rule) {
		if x.DeployWorkflow != "" {
			out.DeployWorkflow = x.DeployWorkflow
		}
		if x.Branch != "" {
			out.Branch = x.Branch
		}
		if x.Team != "" {
			out.Team = x.Team
		}
		if x.GitDir != "" {
			out.GitDir = x.GitDir
		}
	}
	merge(r.Defaults)
	if x, ok := r.Projects[slug]; ok {
		merge(x)
		return out
	}
	for _, k := range slices.Sorted(maps.Keys(r.Projects)) {
		if ok, _ := path.Match(k, slug); ok {
			merge(r.Projects[k])
			break
		}
	}
	return out
}

// workflows splits a deploy_workflow value into its names or globs.
func workflows(v string) []string {
	var out []string
	for _, w := range strings.Split(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
