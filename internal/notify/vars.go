package notify

import (
	"fmt"
	"strings"
)

// circleVars are the CircleCI job facts a custom template may expand: what
// the job is, never a credential (the variables the slack orb's templates
// use among them). Everything else in the environment needs template_vars,
// since a CI environment is full of secrets (CIRCLE_TOKEN, DD_API_KEY,
// SLACK_ACCESS_TOKEN, a DATABASE_URL, a GH_PAT) that a template must not
// post, and no list of credential-looking names can be complete.
var circleVars = map[string]bool{
	"CIRCLE_BRANCH": true, "CIRCLE_SHA1": true, "CIRCLE_JOB": true, "CIRCLE_BUILD_URL": true,
	"CIRCLE_BUILD_NUM": true, "CIRCLE_PROJECT_USERNAME": true, "CIRCLE_PROJECT_REPONAME": true,
	"CIRCLE_PIPELINE_ID": true, "CIRCLE_PIPELINE_NUMBER": true, "CIRCLE_TAG": true,
	"CIRCLE_USERNAME": true, "CIRCLE_WORKFLOW_ID": true, "CIRCLE_WORKFLOW_JOB_ID": true,
	"CIRCLE_REPOSITORY_URL": true, "CIRCLE_COMPARE_URL": true, "CIRCLE_PULL_REQUEST": true,
	"CIRCLE_PR_NUMBER": true, "CIRCLE_PR_REPONAME": true, "CIRCLE_PR_USERNAME": true,
	"CIRCLE_NODE_INDEX": true, "CIRCLE_NODE_TOTAL": true, "CIRCLE_STAGE": true,
	"SLACK_DEFAULT_CHANNEL": true,
}

// credentialWords in a variable's name mark it as a credential: it is never
// expanded, even when template_vars lists it.
var credentialWords = []string{"TOKEN", "KEY", "SECRET", "PASSWORD", "PASS", "AUTH", "CREDENTIAL", "PRIVATE", "SIG", "COOKIE", "SESSION", "WEBHOOK"}

// templateVars decides which environment variables a custom template may
// expand: CircleCI's job facts, pmguard's own figures (PMGUARD_*, resolved
// before the environment) and what template_vars lists, never a credential.
type templateVars struct {
	listed  map[string]bool // template_vars
	secrets map[string]bool // named by token_env, access_token and webhook_env
}

func newTemplateVars(listed []string, secretEnvs ...string) templateVars {
	v := templateVars{listed: map[string]bool{}, secrets: map[string]bool{}}
	for _, n := range listed {
		v.listed[strings.TrimPrefix(strings.TrimSpace(n), "$")] = true
	}
	for _, n := range secretEnvs {
		v.secrets[n] = true
	}
	return v
}

// refusal says why name may not be expanded from the environment, or "".
func (v templateVars) refusal(name string) string {
	switch {
	case v.secrets[name]:
		return "it holds a secret (named by token_env, access_token or webhook_env)"
	case looksLikeCredential(name):
		return "its name looks like a credential; such a variable is never expanded"
	case circleVars[name] || v.listed[name]:
		return ""
	}
	return "it is neither a CircleCI job fact nor listed in template_vars"
}

// ordinaryWords are whole words of a variable's name that hold a
// credential word by accident (AUTH in AUTHOR): COMMIT_AUTHOR is what a
// slack orb template shows beside the commit, not a credential.
var ordinaryWords = map[string]bool{
	"AUTHOR": true, "AUTHORS": true, "PASSED": true, "PASSES": true, "PASSING": true,
	"BYPASS": true, "COMPASS": true, "DESIGN": true, "SIGNAL": true,
}

// looksLikeCredential reports whether a word of name (split at "_") holds a
// credential word, an ordinary word excepted; a word like GHTOKEN or
// SSHKEY still counts.
func looksLikeCredential(name string) bool {
	for _, word := range strings.Split(strings.ToUpper(name), "_") {
		if ordinaryWords[word] {
			continue
		}
		for _, w := range credentialWords {
			if strings.Contains(word, w) {
				return true
			}
		}
	}
	return false
}

// refusedNote is the line printed for a variable a template may not use.
func refusedNote(name, why string) string {
	return fmt.Sprintf("custom template: $%s is left empty: %s", name, why)
}
