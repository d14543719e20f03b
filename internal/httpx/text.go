package httpx

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Free text pmguard did not write — the output of a command it runs, text
// imported from another tool — may quote a credential pmguard was never
// told about. RedactText removes what has the shape of one:
//
//   - a URL's user info (https://user:pass@host, https://TOKEN@host) and
//     every query value, as RedactURL does;
//   - the value of an Authorization or Proxy-Authorization header, and a
//     token after "Bearer";
//   - the value of a setting or field whose name ends in token, secret,
//     password, passwd, pwd, key, signature, sig, credential(s) or auth
//     (access_token=, api_key: , "client_secret": "…");
//   - Slack tokens (xoxb-, xoxp-, xapp- …) and incoming-webhook paths,
//     GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).
//
// A value that only names a variable ($TOKEN, ${TOKEN}) is kept: it is
// not the secret, and it says which one was used.
var (
	authHeaderRe = regexp.MustCompile(`(?i)((?:proxy-)?authorization"?\s*[:=]\s*"?)(?:(bearer|basic|digest|token|bot|negotiate)\s+)?([^\s"',;]+)`)
	bearerRe     = regexp.MustCompile(`(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)`)
	tokenShapeRe = regexp.MustCompile(`\b(?:xox[abeoprs]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`)
	slackHookRe  = regexp.MustCompile(`(?i)(hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[^\s"'<>]+`)
	urlRe        = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>\x60]+`)
	userinfoRe   = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.\-]*://)([^/?#]*)@`)
	queryPairRe  = regexp.MustCompile(`([?&])([^=&#?]+)=([^&#]*)`)
	secretPairRe = regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_.\-])([A-Za-z0-9_.\-]*(?:token|secret|passw(?:or)?d|pwd|key|signature|sig|credentials?|auth))("?\s*[=:]\s*"?)([^\s"'&,;<>]+)`)
	varRefRe     = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})$`)
)

const redacted = "[REDACTED]"

// RedactText removes what has the shape of a credential from s (see the
// list above); every query value is hidden.
func RedactText(s string) string { return redactText(s, func(string) bool { return false }) }

// Text is Redact followed by RedactText, except that the values of the
// query parameters ShowQuery names stay visible: for text pmguard did not
// write.
func (r *Redactor) Text(s string) string { return redactText(r.Redact(s), r.isShown) }

func redactText(s string, shown func(name string) bool) string {
	if s == "" {
		return s
	}
	s = authHeaderRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := authHeaderRe.FindStringSubmatch(m)
		if isVarRef(sub[3]) {
			return m
		}
		if sub[2] != "" {
			return sub[1] + sub[2] + " " + redacted
		}
		return sub[1] + redacted
	})
	s = bearerRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := bearerRe.FindStringSubmatch(m)
		if !strings.ContainsAny(sub[2], "0123456789-._~+/=") {
			return m // a word, not a token ("bearer authentication")
		}
		return sub[1] + redacted
	})
	s = tokenShapeRe.ReplaceAllString(s, redacted)
	s = slackHookRe.ReplaceAllString(s, "${1}REDACTED")
	s = urlRe.ReplaceAllStringFunc(s, func(u string) string {
		u = userinfoRe.ReplaceAllString(u, "${1}REDACTED@")
		return queryPairRe.ReplaceAllStringFunc(u, func(p string) string {
			sub := queryPairRe.FindStringSubmatch(p)
			if shown(sub[2]) || sub[3] == "" || sub[3] == "REDACTED" || isVarRef(sub[3]) {
				return p
			}
			return sub[1] + sub[2] + "=REDACTED"
		})
	})
	return secretPairRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretPairRe.FindStringSubmatch(m)
		v := sub[4]
		if shown(sub[2]) || v == redacted || v == "REDACTED" || isVarRef(v) || strings.Contains(v, "://") {
			return m // already hidden, a variable's name, or a URL (its secrets are handled above)
		}
		return sub[1] + sub[2] + sub[3] + redacted
	})
}

func isVarRef(v string) bool { return varRefRe.MatchString(strings.Trim(v, `"'`)) }

// TextWriter passes what is written to it on to its writer one line at a
// time, through Redactor.Text: a credential split between two writes is
// still found. Flush writes a last line that has no newline, ending it
// with one. It is safe for concurrent use (a command's stdout and stderr).
type TextWriter struct {
	mu    sync.Mutex
	w     io.Writer
	r     *Redactor
	known bool // only the known secrets (SecretWriter)
	buf   []byte
}

// A line longer than maxPiece is written in pieces that end at a blank; one
// without a blank is held up to maxUnbroken.
const (
	maxPiece    = 64 << 10
	maxUnbroken = 1 << 20
)

// TextWriter returns a TextWriter onto w.
func (r *Redactor) TextWriter(w io.Writer) *TextWriter { return &TextWriter{w: w, r: r} }

// SecretWriter is a TextWriter that removes the known secrets only, not
// credential shapes: for pmguard's own output (help texts show header
// examples), where it is the last guard should a secret reach a message.
func (r *Redactor) SecretWriter(w io.Writer) *TextWriter {
	return &TextWriter{w: w, r: r, known: true}
}

func (t *TextWriter) redact(s string) string {
	if t.known {
		return t.r.Redact(s)
	}
	return t.r.Text(s)
}

func (t *TextWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	i := bytes.LastIndexByte(t.buf, '\n')
	if i < 0 {
		// A very long line is written in pieces, each ending at a blank,
		// where no credential is cut in two (a cut one would no longer be
		// recognised); a line without one is cut only past maxUnbroken.
		if len(t.buf) < maxPiece {
			return len(p), nil
		}
		if i = bytes.LastIndexAny(t.buf, " \t"); i < 0 {
			if len(t.buf) < maxUnbroken {
				return len(p), nil
			}
			i = len(t.buf) - 1
		}
	}
	// A known secret may hold a newline or a blank (a PEM key, a
	// passphrase): the piece ends before one that the cut would split, or
	// whose rest has not been written yet.
	j := t.r.CutBefore(string(t.buf), i+1)
	if j == 0 {
		return len(p), nil
	}
	if _, err := io.WriteString(t.w, t.redact(string(t.buf[:j]))); err != nil {
		return 0, err
	}
	t.buf = append(t.buf[:0], t.buf[j:]...)
	return len(p), nil
}

// CutBefore is where s may be cut at i at the latest (i when nothing
// stands in the way) so that no known secret is split: one that starts
// before i and ends after it, or that s ends with the start of. Whatever
// cuts text that may quote a secret and redacts the pieces apart (a writer
// emitting lines) cuts there; text redacted whole before it is cut needs
// no such care.
func (r *Redactor) CutBefore(s string, i int) int {
	if r == nil {
		return i
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for moved := true; moved && i > 0; {
		moved = false
		for _, sec := range r.secrets {
			if k := spanning(s, sec, i); k < i {
				i, moved = k, true
			}
		}
	}
	return i
}

// spanning is where an occurrence of sec in s that i would split starts
// (sec itself, or a start of it s ends with), or i when there is none.
func spanning(s, sec string, i int) int {
	for from := max(0, i-len(sec)+1); from < i; {
		k := strings.IndexByte(s[from:], sec[0])
		if k < 0 {
			break
		}
		k += from
		if k >= i {
			break
		}
		if rest := s[k:]; strings.HasPrefix(rest, sec) && k+len(sec) > i || len(rest) < len(sec) && strings.HasPrefix(sec, rest) {
			return k
		}
		from = k + 1
	}
	return i
}

// Flush writes what is left, a last line without a newline, and ends it
// with one, so that what is written next starts on a line of its own.
func (t *TextWriter) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(t.w, t.redact(string(t.buf))+"\n")
	t.buf = t.buf[:0]
	return err
}
