package circleci

import (
	"fmt"
	"reflect"
)

// shaped is an answer type with fields pmguard cannot do without. A 2xx
// answer lacking one is not CircleCI's API (a proxy's page, a half-written
// mirror, a changed API) and must never be read as a verdict: a pipeline
// without a number would look older than every other, a workflow without a
// status would look forever running.
type shaped interface {
	// missing names the first required field that is absent, or "".
	missing() string
}

// UnexpectedResponseError is a 2xx answer that is not the JSON the
// operation returns. pmguard could not run.
type UnexpectedResponseError struct {
	Method, Path string
	Problem      string // "field number missing", "not JSON: ..."
}

func (e *UnexpectedResponseError) Error() string {
	return fmt.Sprintf("unexpected response from %s %s (%s)", e.Method, e.Path, e.Problem)
}

// firstMissing takes (name, value) pairs and returns the name of the first
// field whose value is empty: "", 0, a zero time.
func firstMissing(fields ...any) string {
	for i := 0; i+1 < len(fields); i += 2 {
		if empty(fields[i+1]) {
			return fields[i].(string)
		}
	}
	return ""
}

func empty(v any) bool {
	if z, ok := v.(interface{ IsZero() bool }); ok {
		return z.IsZero()
	}
	return reflect.ValueOf(v).IsZero()
}

func (p *Pipeline) missing() string {
	return firstMissing("id", p.ID, "number", p.Number, "created_at", p.CreatedAt)
}

func (p *PipelineCreation) missing() string { return firstMissing("id", p.ID, "number", p.Number) }

func (w *Workflow) missing() string {
	return firstMissing("id", w.ID, "name", w.Name, "status", w.Status, "pipeline_id", w.PipelineID)
}

func (j *Job) missing() string { return firstMissing("id", j.ID, "name", j.Name, "status", j.Status) }

func (p *Project) missing() string { return firstMissing("id", p.ID, "slug", p.Slug) }

func (r *RollbackResponse) missing() string { return firstMissing("id", r.ID) }

func (r *rerunResponse) missing() string { return firstMissing("workflow_id", r.WorkflowID) }

func (d *PipelineDefinition) missing() string { return firstMissing("id", d.ID) }

func (c *Component) missing() string { return firstMissing("id", c.ID, "name", c.Name) }

func (e *Environment) missing() string { return firstMissing("id", e.ID, "name", e.Name) }

func (v *ComponentVersion) missing() string { return firstMissing("name", v.Name) }

func (a *Artifact) missing() string { return firstMissing("path", a.Path, "url", a.URL) }

func (j *JobDetails) missing() string { return firstMissing("number", j.Number) }

func (r *WorkflowRun) missing() string { return firstMissing("id", r.ID) }

func (p *Pipeline) id() string { return p.ID }
func (w *Workflow) id() string { return w.ID }
