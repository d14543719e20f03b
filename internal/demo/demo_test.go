package demo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/jobenv"
)

// The demo tells one story: every pipeline it names as the failed deploy is
// the job's own pipeline, and the rollback it would start is of that
// pipeline's id.
func TestDemoSpeaksOfOnePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("plays the whole demo")
	}
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Out: &out, Version: "test", Dir: t.TempDir()}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	job := jobenv.FromEnv((&Demo{}).jobEnv())
	text := out.String()
	for _, m := range regexp.MustCompile(`(?i)pipeline #?(\d+)'s deploy|deploy #(\d+)|of pipeline (\d+)`).FindAllStringSubmatch(text, -1) {
		n := m[1] + m[2] + m[3]
		if n != job.PipelineNumber {
			t.Errorf("%q names pipeline %s; the job's pipeline is %s", m[0], n, job.PipelineNumber)
		}
	}
	if !strings.Contains(text, `"pmguard_rollback_of":"`+job.PipelineID+`"`) {
		t.Errorf("the rollback is not of the failed pipeline's id %s:\n%s", job.PipelineID, text)
	}
}
