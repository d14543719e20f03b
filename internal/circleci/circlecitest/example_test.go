package circlecitest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
)

// How a test seeds the stand-in and reads it back with the client: a
// pipeline whose deploy job stored an event log artifact, and a deploy
// workflow that fails after two minutes on the server's clock.
func TestSeedingAndReadingBack(t *testing.T) {
	srv := circlecitest.New(t, inmemory.Options{})
	srv.AddProject("gh/acme/api")
	p := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{
		Branch: "main", Params: map[string]any{"deploy": true},
		Workflows: []inmemory.WorkflowSeed{{
			Name:     "deploy",
			Timeline: inmemory.Ends(2*time.Minute, "failed"),
			Jobs: []inmemory.JobSeed{{Name: "deploy", Artifacts: []inmemory.ArtifactSeed{
				{Path: "tmp/pmguard/events.jsonl", Content: []byte(`{"event":"canary_failed"}` + "\n")},
			}}},
		}},
	})
	c := srv.Client(t)
	ctx := context.Background()

	w, err := c.Workflows.Get(ctx, p.Workflows[0].ID)
	if err != nil || w.Status != "running" {
		t.Fatalf("before: %v %v", w, err)
	}
	srv.Clock().Advance(2 * time.Minute)
	if w, _ = c.Workflows.Get(ctx, w.ID); w.Status != "failed" {
		t.Fatalf("after two minutes: %s", w.Status)
	}
	jobs, _ := c.Workflows.Jobs(ctx, w.ID)
	for a, err := range c.Jobs.Artifacts(ctx, "gh/acme/api", *jobs[0].JobNumber) {
		if err != nil {
			t.Fatal(err)
		}
		data, err := c.Jobs.Download(ctx, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s: %s", a.Path, data)
	}
	var n int
	for _, err := range c.Pipelines.All(ctx, "gh/acme/api", &circleci.ListPipelinesOptions{Branch: "main"}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d pipelines", n)
	}
}
