// Package demo plays a deploy and its incident against sample services on
// loopback, running each pmguard guard the way a CircleCI job would, and
// prints what a user would see.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/verb"
)

// Options are the demo's inputs and dependencies.
type Options struct {
	Out     io.Writer
	Env     config.Env
	Version string
	Dir     string // where the event log and reports go; "" makes a temp dir
}

// Demo is the state shared by the demo's steps.
type Demo struct {
	Options
	EventsFile string
}

// jobEnv is the CircleCI job environment the demo pretends to run in, so its
// event log reads like one from a real pipeline.
func (d *Demo) jobEnv() config.Env {
	return config.MapEnv(map[string]string{
		"CIRCLE_PROJECT_USERNAME": "acme",
		"CIRCLE_PROJECT_REPONAME": "api",
		"CIRCLE_BUILD_URL":        "https://circleci.com/gh/acme/api/1234",
		"CIRCLE_BRANCH":           "main",
		"CIRCLE_SHA1":             "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
		"CIRCLE_JOB":              "deploy",
		"CIRCLE_WORKFLOW_ID":      "5e7c1a2b-0000-4000-8000-000000001234",
		"CIRCLE_PIPELINE_ID":      "8d3f0c9e-0000-4000-8000-000000001234",
		"CIRCLE_PIPELINE_NUMBER":  "1234",
		"CIRCLE_USERNAME":         "release-bot",
	})
}

// deps is the dependency set of one step: its settings as env vars, the
// demo's output, and the job context of the pipeline the demo plays.
func (d *Demo) deps(settings map[string]string, stderr io.Writer) *verb.Deps {
	deps := verb.New(config.MapEnv(settings), d.Out, stderr, d.Version)
	deps.Job = jobenv.FromEnv(d.jobEnv())
	return deps
}

// step is one act of the demo.
type step struct {
	title string
	run   func(d *Demo, ctx context.Context) error
}

// Run plays every step in order; it stops at the first step that cannot run.
func Run(ctx context.Context, o Options) error {
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "pmguard-demo-")
		if err != nil {
			return err
		}
		o.Dir = dir
	}
	d := &Demo{Options: o, EventsFile: o.Dir + "/events.jsonl"}
	steps := []step{
		{"health check after a deploy", (*Demo).health},
		{"canary analysis", (*Demo).canary},
		{"automatic rollback (dry run)", (*Demo).rollback},
		{"Slack incident notice", (*Demo).notify},
		{"post-mortem draft", (*Demo).postmortem},
	}
	for i, s := range steps {
		fmt.Fprintf(d.Out, "\n== %d. %s ==\n", i+1, s.title)
		if err := s.run(d, ctx); err != nil {
			return fmt.Errorf("demo step %q: %w", s.title, err)
		}
	}
	fmt.Fprintf(d.Out, "\nEvent log: %s\nReports:   %s\n", d.EventsFile, d.Dir)
	return nil
}
