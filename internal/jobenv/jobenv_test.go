package jobenv

import (
	"testing"

	"github.com/pmguard/pmguard/internal/config"
)

func TestFromEnv(t *testing.T) {
	cases := map[string]string{
		"https://circleci.com/gh/acme/api/1234":                             "gh/acme/api",
		"https://circleci.com/bb/acme/api/1234":                             "bb/acme/api",
		"https://app.circleci.com/pipelines/circleci/Xy12/Ab34/5/workflows": "circleci/acme/api",
		"": "",
	}
	for buildURL, want := range cases {
		j := FromEnv(config.MapEnv(map[string]string{
			"CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "api",
			"CIRCLE_BUILD_URL": buildURL, "CIRCLE_BRANCH": "main",
		}))
		if got := j.ProjectSlug(); got != want {
			t.Errorf("%q: slug %q, want %q", buildURL, got, want)
		}
		if j.Branch != "main" || j.Project() != "acme/api" {
			t.Errorf("branch %q project %q", j.Branch, j.Project())
		}
	}
}

func TestStatusFileIsOnePerJob(t *testing.T) {
	for _, c := range []struct{ id, tmp, want string }{
		{"6a1c…-0001", "/tmp/x", "/tmp/x/pmguard-job-status-6a1c…-0001"},
		{"6a1c…-0001", "", "/tmp/pmguard-job-status-6a1c…-0001"},
		{"", "/tmp", ""},              // outside a job: no shared file
		{"../etc/passwd", "/tmp", ""}, // never a path out of tmp
	} {
		if got := (Job{WorkflowJobID: c.id}).StatusFile(c.tmp); got != c.want {
			t.Errorf("StatusFile(%q) for job %q = %q, want %q", c.tmp, c.id, got, c.want)
		}
	}
}
