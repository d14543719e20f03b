package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/rollback"
)

// rollback runs pmguard/rollback_auto in dry-run mode against an in-memory
// CircleCI API on loopback: it finds the last good deploy, picks the
// strategy, and prints the request it would send.
func (d *Demo) rollback(ctx context.Context) error {
	const slug = "gh/acme/api"
	api := fake.New(fake.Options{Token: "demo-token"})
	api.AddProject(slug)
	api.SetNextPipelineNumber(slug, 1228)
	now := api.Now()
	deploys := []struct{ sha, status string }{
		{"1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e", "success"},
		{"2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f", "success"},
		{"3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60", "success"},
		{"9a8b7c6d5e4f30291817a6b5c4d3e2f1a0b9c8d7", "failed"},
		{"8b7c6d5e4f30291817a6b5c4d3e2f1a0b9c8d7e6", "canceled"},
		{"4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39", "failed"},
	}
	var failed *fake.Pipeline
	for i, dp := range deploys {
		failed = api.AddPipeline(slug, fake.PipelineSeed{
			Branch: "main", Revision: dp.sha, CreatedAt: now.Add(time.Duration(i-len(deploys)) * 3 * time.Hour),
			Workflows: []fake.WorkflowSeed{{Name: "build", Status: "success"}, {Name: "deploy", Status: dp.status}},
		})
	}
	api.Start()
	defer api.Close()

	fmt.Fprintf(d.Out, "Pipeline %d's deploy just failed its canary. The job's last step:\n", failed.Number)
	fmt.Fprintf(d.Out, "  pmguard/rollback_auto: {version: previous, deploy_workflow: deploy, dry_run: true}\n")
	fmt.Fprintf(d.Out, "(against an in-memory CircleCI API on %s; nothing leaves this machine)\n\n", api.URL())

	client, err := circleci.New(circleci.Options{
		Host: api.URL(), Token: api.Token(), HTTP: httpx.New(httpx.Options{Version: d.Version}),
		DryRun: func(r circleci.Request) {
			fmt.Fprintf(d.Out, "Would send: %s %s\n  Circle-Token: [REDACTED]\n  %s\n", r.Method, r.Path, r.Body)
		},
	})
	if err != nil {
		return err
	}
	log, err := events.Open(d.EventsFile, jobenv.FromEnv(d.jobEnv()))
	if err != nil {
		return err
	}
	res, err := rollback.Run(ctx, rollback.Options{
		Version: "previous", DeployWorkflow: "deploy", DryRun: true,
		ProjectSlug: slug, PipelineID: failed.ID, WorkflowID: failed.Workflows[1].ID,
		Client: client, Events: log, Out: d.Out, Now: api.Now, Sleep: api.Clock().Sleep,
	})
	if err != nil {
		return err
	}
	if api.Writes() != 0 || res.Outcome != rollback.OutcomeDryRun {
		return fmt.Errorf("the dry run sent %d writes (outcome %s)", api.Writes(), res.Outcome)
	}
	fmt.Fprintf(d.Out, "\n%d API reads, no write. Without dry_run the rollback pipeline would start once,\nhowever many jobs of pipeline %d call rollback_auto.\n", res.Calls, failed.Number)
	return nil
}
