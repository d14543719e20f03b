// Package jobenv reads what the CircleCI job environment says about the
// running job (the CIRCLE_* variables), so every verb and the event log
// describe the same project, pipeline, workflow, job and commit.
package jobenv

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/pmguard/pmguard/internal/config"
)

// Job is the CircleCI context of this process; fields are empty outside CircleCI.
type Job struct {
	ProjectUsername string // CIRCLE_PROJECT_USERNAME: the org
	ProjectRepo     string // CIRCLE_PROJECT_REPONAME
	VCS             string // gh, bb or circleci, from CIRCLE_BUILD_URL
	Branch          string // CIRCLE_BRANCH
	Tag             string // CIRCLE_TAG
	SHA             string // CIRCLE_SHA1
	JobName         string // CIRCLE_JOB
	BuildNum        string // CIRCLE_BUILD_NUM
	BuildURL        string // CIRCLE_BUILD_URL: the job's page
	WorkflowID      string // CIRCLE_WORKFLOW_ID
	WorkflowJobID   string // CIRCLE_WORKFLOW_JOB_ID
	PipelineID      string // CIRCLE_PIPELINE_ID (pmguard's orb exports it from pipeline.id)
	PipelineNumber  string // CIRCLE_PIPELINE_NUMBER (likewise, from pipeline.number)
	Username        string // CIRCLE_USERNAME: who triggered it
	RepoURL         string // CIRCLE_REPOSITORY_URL
	CompareURL      string // CIRCLE_COMPARE_URL
}

// FromEnv reads the job environment.
func FromEnv(env config.Env) Job {
	g := func(k string) string { return strings.TrimSpace(config.Get(env, k)) }
	j := Job{
		ProjectUsername: g("CIRCLE_PROJECT_USERNAME"),
		ProjectRepo:     g("CIRCLE_PROJECT_REPONAME"),
		Branch:          g("CIRCLE_BRANCH"),
		Tag:             g("CIRCLE_TAG"),
		SHA:             g("CIRCLE_SHA1"),
		JobName:         g("CIRCLE_JOB"),
		BuildNum:        g("CIRCLE_BUILD_NUM"),
		BuildURL:        g("CIRCLE_BUILD_URL"),
		WorkflowID:      g("CIRCLE_WORKFLOW_ID"),
		WorkflowJobID:   g("CIRCLE_WORKFLOW_JOB_ID"),
		PipelineID:      g("CIRCLE_PIPELINE_ID"),
		PipelineNumber:  g("CIRCLE_PIPELINE_NUMBER"),
		Username:        g("CIRCLE_USERNAME"),
		RepoURL:         g("CIRCLE_REPOSITORY_URL"),
		CompareURL:      g("CIRCLE_COMPARE_URL"),
	}
	j.VCS = vcsFromBuildURL(j.BuildURL)
	return j
}

// StatusFile is where the orb's when: on_fail / on_success steps also
// write the job's status, for steps that run under /bin/sh (images without
// bash), which never reads $BASH_ENV. It is one file per job (named by
// CIRCLE_WORKFLOW_JOB_ID) in tmp, so a runner's /tmp left from another job is
// never read; "" outside a CircleCI job.
func (j Job) StatusFile(tmp string) string {
	if j.WorkflowJobID == "" || strings.ContainsAny(j.WorkflowJobID, `/\`) {
		return ""
	}
	if tmp == "" {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "pmguard-job-status-"+j.WorkflowJobID)
}

// vcsFromBuildURL maps https://circleci.com/gh/org/repo/123 to "gh". Newer
// projects' job URLs look like https://app.circleci.com/pipelines/circleci/...
func vcsFromBuildURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) > 1 && parts[0] == "pipelines" {
		parts = parts[1:]
	}
	switch parts[0] {
	case "gh", "github":
		return "gh"
	case "bb", "bitbucket":
		return "bb"
	case "circleci", "gl", "gitlab":
		return "circleci"
	}
	return ""
}

// ProjectSlug is "vcs/org/repo" (e.g. gh/acme/api), or "" when unknown.
func (j Job) ProjectSlug() string {
	if j.VCS == "" || j.ProjectUsername == "" || j.ProjectRepo == "" {
		return ""
	}
	return j.VCS + "/" + j.ProjectUsername + "/" + j.ProjectRepo
}

// Project is "org/repo" for messages, or "" when unknown.
func (j Job) Project() string {
	if j.ProjectUsername == "" {
		return j.ProjectRepo
	}
	return j.ProjectUsername + "/" + j.ProjectRepo
}
