package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/pmguard/pmguard/internal/circleci"
)

// strategy is the chosen way to roll back and why.
type strategy struct {
	name         string
	why          string
	definitionID string
	projectID    string
	markers      *Target // versions from deploy markers (rollback_pipeline)
}

// errNotApplicable says why a strategy does not apply.
type errNotApplicable struct{ why string }

func (e *errNotApplicable) Error() string { return e.why }

// notApplicableIfNotFound reads a strategy's API error: a 404 means this
// CircleCI lacks what the strategy needs (why), anything else is a failure
// of what it was doing.
func notApplicableIfNotFound(err error, why, doing string) error {
	if circleci.IsNotFound(err) {
		return &errNotApplicable{why}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// chooseStrategy applies the strategy setting; auto tries
// rollback_pipeline, definition, trigger and rerun in that order and takes
// the first that applies, saying why the earlier ones did not.
func (r *run) chooseStrategy(ctx context.Context, v Version) (*strategy, error) {
	o := r.o
	tries := []string{o.Strategy}
	if o.Strategy == StrategyAuto {
		tries = []string{StrategyRollbackPipeline, StrategyDefinition, StrategyTrigger, StrategyRerun}
	}
	var skipped []string
	for _, name := range tries {
		s, err := r.tryStrategy(ctx, name, v)
		var na *errNotApplicable
		if errors.As(err, &na) {
			if o.Strategy != StrategyAuto {
				return nil, fmt.Errorf("strategy %s cannot be used: %s", name, na.why)
			}
			skipped = append(skipped, name+": "+na.why)
			continue
		}
		if err != nil {
			return nil, err
		}
		if o.Strategy == StrategyAuto {
			s.why = "auto: " + s.why
			if len(skipped) > 0 {
				s.why += " (not " + strings.Join(skipped, "; not ") + ")"
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("no rollback strategy applies: %s", strings.Join(skipped, "; "))
}

func (r *run) tryStrategy(ctx context.Context, name string, v Version) (*strategy, error) {
	o := r.o
	switch name {
	case StrategyRollbackPipeline:
		return r.rollbackPipeline(ctx, v)
	case StrategyDefinition:
		if o.DefinitionID != "" {
			return &strategy{name: name, why: "definition_id " + o.DefinitionID + " was given"}, nil
		}
		if circleci.SupportsLegacyTrigger(o.ProjectSlug) || r.project == nil {
			return nil, &errNotApplicable{"no definition_id given"}
		}
		defs, err := r.c.Pipelines.Definitions(ctx, r.project.ID)
		if err != nil {
			return nil, notApplicableIfNotFound(err, "no definition_id given and the project lists no pipeline definitions", "listing pipeline definitions")
		}
		if len(defs) != 1 {
			names := make([]string, 0, len(defs))
			for _, d := range defs {
				names = append(names, d.Name+"="+d.ID)
			}
			return nil, &errNotApplicable{fmt.Sprintf("no definition_id given and the project has %d pipeline definitions (%s); set definition_id", len(defs), strings.Join(names, ", "))}
		}
		return &strategy{name: name, definitionID: defs[0].ID, why: fmt.Sprintf("the project's only pipeline definition is %q (%s)", defs[0].Name, defs[0].ID)}, nil
	case StrategyTrigger:
		if !circleci.SupportsLegacyTrigger(o.ProjectSlug) {
			return nil, &errNotApplicable{"the legacy trigger serves GitHub OAuth and Bitbucket projects only, and " + o.ProjectSlug + " is neither"}
		}
		return &strategy{name: name, why: o.ProjectSlug + " is a GitHub OAuth or Bitbucket project, which the legacy trigger serves"}, nil
	case StrategyRerun:
		return &strategy{name: name, why: "rerun the target's own run of the deploy workflow"}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", name)
}

// rollbackPipeline applies when the project has a rollback pipeline
// registered and deploy markers name the component, environment and
// versions it needs.
func (r *run) rollbackPipeline(ctx context.Context, v Version) (*strategy, error) {
	if r.project == nil {
		return nil, &errNotApplicable{"the project is unknown"}
	}
	set, err := r.c.Deploy.Settings(ctx, r.project.ID)
	if err != nil {
		return nil, notApplicableIfNotFound(err, "this CircleCI has no deploy settings for the project", "deploy settings")
	}
	if set.RollbackPipelineDefinitionID == "" {
		return nil, &errNotApplicable{"no rollback pipeline is registered for the project"}
	}
	t, why, err := r.markersTarget(ctx, v)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, &errNotApplicable{"a rollback pipeline is registered but " + why}
	}
	return &strategy{name: StrategyRollbackPipeline, projectID: r.project.ID, markers: t,
		why: fmt.Sprintf("the project has a rollback pipeline (definition %s) and deploy markers for %s in %s", set.RollbackPipelineDefinitionID, t.Component, t.Environment)}, nil
}

// markersTarget reads deploy markers: the component's versions in the
// environment, newest first. The live one is current; the target is the
// newest other version (previous) or the one named.
func (r *run) markersTarget(ctx context.Context, v Version) (*Target, string, error) {
	o := r.o
	orgID, projectID := r.project.OrganizationID, r.project.ID
	// Components and environments only need the organization: read both
	// at once.
	var envs []circleci.Environment
	var envErr error
	var g errgroup.Group
	g.Go(func() error {
		envs, envErr = circleci.Collect(r.c.Deploy.Environments(ctx, orgID))
		return nil
	})
	comps, err := circleci.Collect(r.c.Deploy.Components(ctx, orgID, projectID))
	_ = g.Wait() // envErr is read below, once the components say it matters
	if err != nil {
		if circleci.IsNotFound(err) {
			return nil, "the project has no deploy markers", nil
		}
		return nil, "", fmt.Errorf("deploy components: %w", err)
	}
	comp := named(comps, o.Component, func(c *circleci.Component) string { return c.Name })
	if comp == nil {
		if len(comps) == 0 {
			return nil, "the project has no deploy markers", nil
		}
		return nil, fmt.Sprintf("component %q is not among the project's %d components; set component", o.Component, len(comps)), nil
	}
	if envErr != nil {
		return nil, "", fmt.Errorf("deploy environments: %w", envErr)
	}
	env := named(envs, o.Environment, func(e *circleci.Environment) string { return e.Name })
	if env == nil {
		return nil, fmt.Sprintf("environment %q is not one of the organization's %d environments; set environment", o.Environment, len(envs)), nil
	}
	// The pipelines rolled back: their versions are bad even when their
	// deploy succeeded. Read while the versions are, as far back as the
	// walk for previous reads (other branches' pipelines may have pushed
	// the rollback far down the list).
	rolledBack := map[string]string{}
	var rbErr error
	var rg errgroup.Group
	rg.Go(func() error {
		for p, err := range r.c.Pipelines.All(ctx, o.ProjectSlug, nil, max(o.MaxPages, 1)) {
			if err != nil {
				rbErr = err
				return nil
			}
			if of := p.StringParam(ParamRollbackOf); of != "" {
				rolledBack[of] = fmt.Sprintf("pipeline %d rolled it back", p.Number)
			}
		}
		return nil
	})
	given := func(ver *circleci.ComponentVersion) bool {
		return ver.Name == v.Value || v.PipelineID != "" && ver.PipelineID == v.PipelineID
	}
	var versions []circleci.ComponentVersion
	// As deep as the walk for previous reads pipelines (max_pages).
	for ver, err := range r.c.Deploy.Versions(ctx, comp.ID, env.ID, max(o.MaxPages, 1)) {
		if err != nil {
			return nil, "", fmt.Errorf("component versions: %w", err)
		}
		versions = append(versions, ver)
		if v.Kind != "previous" && given(&ver) {
			break
		}
	}
	_ = rg.Wait()
	if rbErr != nil {
		return nil, "", fmt.Errorf("listing pipelines: %w", rbErr)
	}
	// judgeMarker says why a version's marker shows it bad (its pipeline
	// was rolled back, or the deploy workflow the marker names ended without
	// success), or why it does not show it deployed (that workflow is on
	// hold or still running).
	judgeMarker := func(ver *circleci.ComponentVersion) (bad, unproven string, err error) {
		if w, ok := rolledBack[ver.PipelineID]; ok {
			return w, "", nil
		}
		if ver.WorkflowID == "" {
			return "", "", nil
		}
		w, err := r.c.Workflows.Get(ctx, ver.WorkflowID)
		if err != nil {
			return "", "", fmt.Errorf("workflow of version %s: %w", ver.Name, err)
		}
		switch {
		case w.Done() && w.Status != circleci.StatusSuccess:
			return fmt.Sprintf("its deploy workflow %s ended %s", w.Name, w.Status), "", nil
		case !w.Done():
			return "", fmt.Sprintf("its deploy workflow %s is %s, not finished", w.Name, w.Status), nil
		}
		return "", "", nil
	}
	var current, target *circleci.ComponentVersion
	var skipped []string
	knownBad, unproven := "", ""
	bad := map[string]string{}
	for i := range versions {
		ver := &versions[i]
		if current == nil {
			current = ver // newest deploy, live or failed
			bad[ver.Name] = "the version being rolled back"
			continue
		}
		if v.Kind != "previous" {
			if given(ver) {
				target = ver
				if knownBad, unproven, err = judgeMarker(ver); err != nil {
					return nil, "", err
				}
				break
			}
			continue
		}
		why, isBad := bad[ver.Name]
		if !isBad {
			w, notYet, err := judgeMarker(ver)
			if err != nil {
				return nil, "", err
			}
			if notYet != "" {
				// Not evidence against the version, and no deploy of it.
				skipped = append(skipped, ver.Name+": "+notYet)
				continue
			}
			why, isBad = w, w != ""
		}
		if isBad {
			if _, known := bad[ver.Name]; !known {
				bad[ver.Name] = why
			}
			skipped = append(skipped, ver.Name+": "+why)
			continue
		}
		target = ver
		break
	}
	if current == nil {
		return nil, fmt.Sprintf("component %s has no versions in %s", comp.Name, env.Name), nil
	}
	t := &Target{CurrentVersion: current.Name, Component: comp.Name, Environment: env.Name, Namespace: current.Namespace}
	switch {
	case v.Kind != "previous":
		t.Version = v.Value
		t.Why = fmt.Sprintf("version %s was given; deploy markers: %s in %s is at %s", v.shown(), comp.Name, env.Name, current.Name)
		if target != nil {
			t.Version, t.PipelineID, t.KnownBad, t.Unproven = target.Name, target.PipelineID, knownBad, unproven
		} else if given(current) {
			t.Version = current.Name
		} else {
			t.Unproven = fmt.Sprintf("deploy markers list no version %s of %s in %s", v.Value, comp.Name, env.Name)
		}
	case target != nil:
		t.Version, t.PipelineID, t.WorkflowID = target.Name, target.PipelineID, ""
		t.Why = fmt.Sprintf("deploy markers: %s in %s is at %s; the newest version deployed before it that is not known to be bad is %s", comp.Name, env.Name, current.Name, target.Name)
		if len(skipped) > 0 {
			t.Skipped = skipped
			t.Why += "; passed over: " + strings.Join(skipped, "; ")
		}
	default:
		return nil, fmt.Sprintf("deploy markers list no version of %s in %s before %s that is not known to be bad", comp.Name, env.Name, current.Name), nil
	}
	return t, "", nil
}

// named is the item called name, or the only item when no name is given
// (nil when neither).
func named[T any](items []T, name string, nameOf func(*T) string) *T {
	for i := range items {
		if name == "" && len(items) == 1 || nameOf(&items[i]) == name {
			return &items[i]
		}
	}
	return nil
}
