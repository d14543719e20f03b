package demo

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/rollback"
	"github.com/pmguard/pmguard/internal/verb"
)

// rollback runs pmguard/rollback_auto in dry-run mode against an in-memory
// CircleCI API on loopback: it finds the last good deploy, picks the
// strategy, and prints the request it would send.
func (d *Demo) rollback(ctx context.Context) error {
	const slug = "gh/acme/api"
	api := fake.New(fake.Options{Token: "demo-token"})
	api.AddProject(slug)
	job := jobenv.FromEnv(d.jobEnv())
	// The failed pipeline is the one the demo's job runs in: its number and
	// ids are the job's, so every step speaks of the same pipeline.
	now := api.Now()
	deploys := []struct{ sha, status string }{
		{"1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e", "success"},
		{"2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f", "success"},
		{"3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60", "success"},
		{"9a8b7c6d5e4f30291817a6b5c4d3e2f1a0b9c8d7", "failed"},
		{"8b7c6d5e4f30291817a6b5c4d3e2f1a0b9c8d7e6", "canceled"},
		{"4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39", "failed"},
	}
	api.SetNextPipelineNumber(slug, mustAtoi(job.PipelineNumber)-int64(len(deploys)-1))
	var failed *fake.Pipeline
	for i, dp := range deploys {
		seed := fake.PipelineSeed{
			Branch: "main", Revision: dp.sha, CreatedAt: now.Add(time.Duration(i-len(deploys)) * 3 * time.Hour),
			Workflows: []fake.WorkflowSeed{{Name: "build", Status: "success"}, {Name: "deploy", Status: dp.status}},
		}
		if i == len(deploys)-1 {
			seed.ID, seed.Workflows[1].ID = job.PipelineID, job.WorkflowID
		}
		failed = api.AddPipeline(slug, seed)
	}
	if failed.Number != mustAtoi(job.PipelineNumber) {
		return fmt.Errorf("the failed pipeline is #%d, the job's is #%s", failed.Number, job.PipelineNumber)
	}
	api.Start()
	defer api.Close()

	fmt.Fprintf(d.Out, "Pipeline %d's deploy just failed its canary. The job's last step:\n", failed.Number)
	fmt.Fprintf(d.Out, "  pmguard/rollback_auto: {version: previous, deploy_workflow: deploy, dry_run: true}\n")
	fmt.Fprintf(d.Out, "(against an in-memory CircleCI API on %s; nothing leaves this machine)\n\n", api.URL())

	deps := verb.New(config.MapEnv(map[string]string{"CIRCLE_TOKEN": api.Token(), circleci.HostEnv: api.URL()}), d.Out, io.Discard, d.Version)
	deps.Job = job
	deps.Now, deps.Sleep = api.Now, api.Clock().Sleep
	o, err := rollback.New(ctx, deps, []string{"--version", "previous", "--deploy-workflow", "deploy", "--dry-run",
		"--project-slug", slug, "--pipeline-id", failed.ID, "--workflow-id", failed.Workflows[1].ID, "--events-file", d.EventsFile})
	if err != nil {
		return err
	}
	res, err := rollback.Do(ctx, o)
	if err != nil {
		return err
	}
	if api.Writes() != 0 || res.Outcome != rollback.OutcomeDryRun {
		return fmt.Errorf("the dry run sent %d writes (outcome %s)", api.Writes(), res.Outcome)
	}
	fmt.Fprintf(d.Out, "\n%d API reads, no write. Without dry_run the rollback pipeline would start once,\nhowever many jobs of pipeline %d call rollback_auto.\n", res.Calls, failed.Number)
	return nil
}

func mustAtoi(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("demo: pipeline number " + s)
	}
	return n
}
