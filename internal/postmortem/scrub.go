package postmortem

import (
	"regexp"
	"sort"
	"strings"
)

// scrubber takes people out of text the team did not write: commit
// subjects and bodies, event messages, imported entries. A person appears
// only as the role the team gave them in incident.yml's roles; everyone
// else is removed, never guessed at. Credentials are removed too: the
// secrets the run knows and what has a credential's shape (Redactor.Text:
// a token pasted in a Slack thread, a URL with its access_token).
type scrubber struct {
	redact func(string) string // removes credentials
	roles  map[string]string   // login or email -> role, as the team wrote it
	logins []string            // every login known to be a person's (CI actors, roles' keys), longest first
	known  *regexp.Regexp      // those logins as whole words
}

var (
	// GitHub's merge commit: "Merge pull request #482 from jdoe/fix-index".
	githubMerge = regexp.MustCompile(`Merge pull request #(\d+) from [A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/(\S+)`)
	// Bitbucket's: "Merged in jdoe/fix-index (pull request #12)".
	bitbucketMerge = regexp.MustCompile(`Merged in [^\s/]+/(\S+) \(pull request #(\d+)\)`)
	// Trailers that name people: Signed-off-by, Co-authored-by and the like.
	personTrailer = regexp.MustCompile(`(?im)^[ \t]*(signed-off-by|co-authored-by|reviewed-by|acked-by|reported-by|tested-by|suggested-by|helped-by|approved-by|cc):.*$\n?`)
	emailRe       = regexp.MustCompile(`<?[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}>?`)
	mentionRe     = regexp.MustCompile(`(^|[^\w@/.])@([A-Za-z0-9](?:[A-Za-z0-9_-]{0,38}[A-Za-z0-9])?)\b`)
)

func newScrubber(roles map[string]string, logins []string, redact func(string) string) *scrubber {
	s := &scrubber{roles: map[string]string{}, redact: redact}
	seen := map[string]bool{}
	add := func(l string) {
		l = strings.TrimSpace(l)
		if l != "" && !seen[strings.ToLower(l)] && !strings.Contains(l, "@") {
			seen[strings.ToLower(l)] = true
			s.logins = append(s.logins, l)
		}
	}
	for k, v := range roles {
		s.roles[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		add(k)
	}
	for _, l := range logins {
		add(l)
	}
	sort.Slice(s.logins, func(i, j int) bool { return len(s.logins[i]) > len(s.logins[j]) })
	if len(s.logins) > 0 {
		q := make([]string, len(s.logins))
		for i, l := range s.logins {
			q[i] = regexp.QuoteMeta(l)
		}
		s.known = regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_-])@?(` + strings.Join(q, "|") + `)($|[^A-Za-z0-9_-])`)
	}
	return s
}

// role is the team's name for a login or email, or "".
func (s *scrubber) role(who string) string {
	return s.roles[strings.ToLower(strings.Trim(who, "<>@ "))]
}

// text scrubs one piece of text.
func (s *scrubber) text(t string) string {
	if t == "" {
		return t
	}
	t = s.redact(t)
	t = personTrailer.ReplaceAllString(t, "")
	t = githubMerge.ReplaceAllString(t, "Merge pull request #$1 from $2")
	t = bitbucketMerge.ReplaceAllString(t, "Merged in $1 (pull request #$2)")
	t = emailRe.ReplaceAllStringFunc(t, func(m string) string {
		if r := s.role(m); r != "" {
			return r
		}
		return "(email removed)"
	})
	t = mentionRe.ReplaceAllStringFunc(t, func(m string) string {
		sub := mentionRe.FindStringSubmatch(m)
		if r := s.role(sub[2]); r != "" {
			return sub[1] + r
		}
		return sub[1] + "(handle removed)"
	})
	if s.known != nil {
		// A known login can sit inside a branch name (jdoe/fix) or a
		// sentence; replacing repeats until none is left (matches overlap
		// at their separators).
		for i := 0; i < 4 && s.known.MatchString(t); i++ {
			t = s.known.ReplaceAllStringFunc(t, func(m string) string {
				sub := s.known.FindStringSubmatch(m)
				r := s.role(sub[2])
				if r == "" {
					r = "(login removed)"
				}
				return sub[1] + r + sub[3]
			})
		}
	}
	return strings.TrimRight(t, "\n ")
}

// entries scrubs the text of entries the team did not write.
func (s *scrubber) entries(es []Entry) []Entry {
	for i := range es {
		if es[i].rank == rankTeam {
			continue
		}
		es[i].Event, es[i].Impact = s.text(es[i].Event), s.text(es[i].Impact)
	}
	return es
}
