package notify

import (
	"fmt"
	"strings"
)

// credentialWords in a variable's name mark it as a credential: it is never
// expanded.
var credentialWords = []string{"TOKEN", "KEY", "SECRET", "PASSWORD", "PASS", "AUTH", "CREDENTIAL", "PRIVATE", "SIG", "COOKIE", "SESSION", "WEBHOOK"}

// templateVars decides which environment variables a custom template may
// expand. A template names its variables itself, as the CircleCI slack
// orb's do, so any may be expanded but a credential: a CI environment is
// full of them (CIRCLE_TOKEN, DD_API_KEY, SLACK_ACCESS_TOKEN), and a
// template must never post one.
type templateVars struct {
	secrets map[string]bool // named by token_env, access_token and webhook_env
}

func newTemplateVars(secretEnvs ...string) templateVars {
	v := templateVars{secrets: map[string]bool{}}
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
	}
	return ""
}

func looksLikeCredential(name string) bool {
	up := strings.ToUpper(name)
	for _, w := range credentialWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	return false
}

// refusedNote is the line printed for a variable a template may not use.
func refusedNote(name, why string) string {
	return fmt.Sprintf("custom template: $%s is left empty: %s", name, why)
}
