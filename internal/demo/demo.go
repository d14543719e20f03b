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
