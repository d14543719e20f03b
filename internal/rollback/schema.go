package rollback

import (
	"context"
	"fmt"
	"strings"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/migrations"
	"github.com/pmguard/pmguard/internal/verdict"
)

// Schema check modes.
const (
	SchemaWarn = "warn" // say so, and roll back
	SchemaFail = "fail" // say so, and refuse to roll back (exit 1)
	SchemaOff  = "off"
)

// SchemaCheck compares, before the trigger, the migrations the failed
// revision has and the target lacks with the target's code (the layouts,
// parser and code search of pmguard migrations): rolling the code back
// leaves the schema as the failed deploy made it.
type SchemaCheck struct {
	Mode       string // warn or fail
	Git        migrations.Git
	Migrations []string
	Code       []string
	Exclude    []string
	CacheDir   string // the parser's compiled code (migrations.CacheDir)
}

// SchemaResult is what the schema check found.
type SchemaResult struct {
	Verdict  string // ok, warn, fail, skipped
	Findings []migrations.RollbackFinding
	Files    []string
	Skipped  string // why the check could not run
	Seconds  float64
}

// Lines are the findings as the output, the event log and Slack say them.
func (s *SchemaResult) Lines() []string {
	var out []string
	for _, f := range s.Findings {
		l := f.Message
		if f.Down != "" {
			l += "; undo it with " + f.Down
		}
		out = append(out, l)
	}
	return out
}

// checkSchema runs the schema check for the target. A check that cannot
// run (no repository, a shallow clone without the target) is a note: it
// never holds a rollback back.
func (r *run) checkSchema(ctx context.Context, t *Target) error {
	sc := r.o.Schema
	if sc == nil || sc.Mode == SchemaOff {
		return nil
	}
	start := r.o.Now()
	res := &SchemaResult{Verdict: "ok"}
	r.schema = res
	defer func() { res.Seconds = r.o.Now().Sub(start).Seconds() }()
	targetRev := r.targetRevision(ctx, t)
	failedRev := r.current.Revision()
	if targetRev == "" || failedRev == "" {
		res.Verdict, res.Skipped = "skipped", "the target or the failed pipeline has no commit to compare"
		r.printf("Schema check skipped: %s.\n", res.Skipped)
		return nil
	}
	out, err := checkRollback(ctx, migrations.RollbackCheck{Git: sc.Git, Migrations: sc.Migrations, Code: sc.Code, CodeExclude: sc.Exclude,
		Target: targetRev, Failed: failedRev, CacheDir: sc.CacheDir})
	if err != nil {
		res.Verdict, res.Skipped = "skipped", err.Error()
		r.printf("Schema check skipped: %v\n", err)
		return nil
	}
	res.Findings, res.Files = out.Findings, out.Files
	for _, n := range out.Notes {
		r.printf("Schema check note: %s\n", n)
	}
	if len(res.Findings) == 0 {
		r.printf("Schema check: the %d migration(s) between %s and %s leave nothing the target's code uses broken.\n", len(out.Files), short(targetRev), short(failedRev))
		return nil
	}
	res.Verdict = sc.Mode
	head := fmt.Sprintf("rolling back code to %s will not restore service", short(t.Version))
	r.printf("Schema check (%s): %s:\n", sc.Mode, head)
	for _, l := range res.Lines() {
		r.printf("  - %s\n", l)
	}
	if sc.Mode != SchemaFail {
		r.printf("  Rolling back anyway (schema_check: warn); migrate the schema back too, or fix forward.\n")
		return nil
	}
	msg := head + ": " + strings.Join(res.Lines(), "; ")
	r.event(ctx, events.RollbackFailed, t.Version, "schema check: "+msg, events.Rollback{Reason: "schema_check", TargetVersion: t.Version,
		TargetRevision: t.Commit, SchemaCheck: res.Verdict, SchemaFindings: res.Lines()})
	return verdict.Failf("schema check (schema_check: fail): %s; no rollback started by this job", msg)
}

// targetRevision is the commit the target deploys: its SHA, the commit of
// a tag, the commit the pipeline that deployed a marker's version
// deployed, or the tag a rollback pipeline deployed (it ran at its
// branch's head, which is not what it deployed).
func (r *run) targetRevision(ctx context.Context, t *Target) string {
	switch {
	case shaRE.MatchString(t.Version):
		return t.Version
	case t.Tag != "":
		return t.Tag
	case t.Component != "":
		if t.PipelineID != "" {
			if p, err := r.c.Pipelines.Get(ctx, t.PipelineID); err == nil {
				if c := deployedCommit(p); c != "" {
					return c
				}
			}
		}
	case t.Commit != "":
		return t.Commit
	}
	return t.Version
}

// schemaMessage is the schema warning appended to the initiated event's
// message, so the Slack notice carries it.
func (r *run) schemaMessage() string {
	if r.schema == nil || len(r.schema.Findings) == 0 {
		return ""
	}
	return fmt.Sprintf("; schema check: rolling back code will not restore service: %s", strings.Join(r.schema.Lines(), "; "))
}

func (r *run) schemaFigure() string {
	if r.schema == nil {
		return ""
	}
	return r.schema.Verdict
}

func (r *run) schemaLines() []string {
	if r.schema == nil {
		return nil
	}
	return r.schema.Lines()
}

// checkRollback runs the check; a fault in it (a migration it misreads) is
// an error, so it is a note and the rollback still starts.
func checkRollback(ctx context.Context, c migrations.RollbackCheck) (res *migrations.RollbackCheckResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("the check failed (%v); please report it", p)
		}
	}()
	return migrations.CheckRollback(ctx, c)
}
