package httpx_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Free text loses what has the shape of a credential, whether or not the
// redactor was told about it; the rest of the text stays readable.
func TestRedactText(t *testing.T) {
	tests := []struct {
		in, want string
		secrets  []string
	}{
		{"calling https://lb.example/api/v1/weights?access_token=lbsecret-9f8e7d&region=eu",
			"calling https://lb.example/api/v1/weights?access_token=REDACTED&region=REDACTED", []string{"lbsecret-9f8e7d"}},
		{"GET https://deploy:hunter2pw@lb.example/x", "GET https://REDACTED@lb.example/x", []string{"hunter2pw"}},
		{"https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/acme/api.git", "https://REDACTED@github.com/acme/api.git", []string{"ghp_"}},
		{"Authorization: Bearer lbsecret-9f8e7d", "Authorization: Bearer [REDACTED]", []string{"lbsecret-9f8e7d"}},
		{`curl -H "authorization: Basic ZGVwbG95Omh1bnRlcjI="`, `curl -H "authorization: Basic [REDACTED]"`, []string{"ZGVwbG95"}},
		{"Proxy-Authorization=s3cr3tvalue", "Proxy-Authorization=[REDACTED]", []string{"s3cr3tvalue"}},
		{"sent with bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "sent with bearer [REDACTED]", []string{"eyJhbGci"}},
		{"token=abc123 key=k-42 api_key: 9a8b7c6d client_secret=\"x.y.z\"", "token=[REDACTED] key=[REDACTED] api_key: [REDACTED] client_secret=\"[REDACTED]\"",
			[]string{"abc123", "k-42", "9a8b7c6d", "x.y.z"}},
		{`{"password": "pa55word", "user": "deploy"}`, `{"password": "[REDACTED]", "user": "deploy"}`, []string{"pa55word"}},
		{"posting with xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "posting with [REDACTED]", []string{"xoxb-"}},
		{"app token xapp-1-A0123456789-1234567890123-abcdef", "app token [REDACTED]", []string{"xapp-"}},
		{"pushed with github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "pushed with [REDACTED]", []string{"github_pat_"}},
		{"gho_abcdefghijklmnopqrstuvwxyz0123456789 and ghs_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED] and [REDACTED]", []string{"gho_", "ghs_"}},
		{"hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX done", "hook https://hooks.slack.com/services/REDACTED done", []string{"XXXXXXXX"}},
		// What is not a credential stays as it is.
		{"routed 50% to the canary", "routed 50% to the canary", nil},
		{"bearer authentication is configured", "bearer authentication is configured", nil},
		{"token_type=bearer weight=50", "token_type=bearer weight=50", nil},
		// A variable's name is not its value, and says which was used.
		{`curl -H "Authorization: Bearer $LB_TOKEN" "https://lb/api?token=${LB_TOKEN}" -d key=$KEY`,
			`curl -H "Authorization: Bearer $LB_TOKEN" "https://lb/api?token=${LB_TOKEN}" -d key=$KEY`, nil},
	}
	for _, tt := range tests {
		got := httpx.RedactText(tt.in)
		if got != tt.want {
			t.Errorf("RedactText(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
		for _, s := range tt.secrets {
			if strings.Contains(got, s) {
				t.Errorf("RedactText(%q) = %q still holds %q", tt.in, got, s)
			}
		}
		if again := httpx.RedactText(got); again != got {
			t.Errorf("RedactText is not idempotent on %q: %q", got, again)
		}
	}
}

// Redactor.Text removes the registered secrets as well, and keeps the query
// values ShowQuery names visible.
func TestRedactorText(t *testing.T) {
	r := httpx.NewRedactor("plain-registered-secret")
	r.ShowQuery("region")
	got := r.Text("echo plain-registered-secret https://lb/x?region=eu&sig=abc123")
	if want := "echo [REDACTED] https://lb/x?region=eu&sig=REDACTED"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

// A TextWriter redacts line by line: a secret split between two writes is
// still found, and Flush writes a last line without a newline, ending it.
func TestTextWriter(t *testing.T) {
	var b strings.Builder
	w := httpx.NewRedactor("registered-9f8e").TextWriter(&b)
	for _, p := range []string{"Authorization: Bea", "rer lbsecret-9f8e7d\nregistered-", "9f8e and ", "xoxb-12345678", "90-abc"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "Authorization: Bearer [REDACTED]\n[REDACTED] and [REDACTED]\n"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}

// TestTextWriterNeverCutsACredential: a line too long to hold whole (a
// command printing a large JSON document on one line) is written in
// pieces; a secret or a token that straddles where a piece would end is
// still recognised whole.
func TestTextWriterNeverCutsACredential(t *testing.T) {
	for _, secret := range []string{"registered-9f8e7d6c", "xoxb-1234567890-abcdef"} {
		var b strings.Builder
		w := httpx.NewRedactor("registered-9f8e7d6c").TextWriter(&b)
		head := strings.Repeat("word ", (64<<10)/5+1)
		for _, p := range []string{head + secret[:8], secret[8:] + " and more\n"} {
			if _, err := w.Write([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), secret[:8]) || !strings.HasSuffix(b.String(), "[REDACTED] and more\n") {
			t.Errorf("%s: the piece ends %q", secret, b.String()[max(0, b.Len()-60):])
		}
	}
}

// A known secret may hold a newline (a PEM key) or a blank (a passphrase):
// a TextWriter never writes a line or a piece that ends inside one, so each
// half is never written on its own, unrecognised.
func TestTextWriterHoldsASecretAcrossLines(t *testing.T) {
	const pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----"
	const phrase = "correct horse battery staple"
	head := strings.Repeat("word ", (64<<10)/5+1)
	for _, tc := range []struct{ secret, before string }{
		{pem, "key: "},
		{pem, ""},
		{phrase, head},
	} {
		var b strings.Builder
		w := httpx.NewRedactor(tc.secret).TextWriter(&b)
		// Cut inside the secret, after a newline (else a blank) in it.
		cut := strings.IndexByte(tc.secret, '\n') + 1
		if cut == 0 {
			cut = strings.IndexByte(tc.secret, ' ') + 1
		}
		for _, p := range []string{tc.before + tc.secret[:cut], tc.secret[cut:] + " done\n"} {
			if _, err := w.Write([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if strings.Contains(got, tc.secret[:cut-1]) || !strings.HasSuffix(got, "[REDACTED] done\n") {
			t.Errorf("%q: wrote %q", tc.secret[:10], got[max(0, len(got)-80):])
		}
	}
}

// CutBefore moves a cut to before a known secret it would split, or one
// whose start ends the text; a cut outside every secret stays.
func TestCutBefore(t *testing.T) {
	r := httpx.NewRedactor("s3cr3t value")
	s := "abc s3cr3t value def s3cr"
	for _, tc := range []struct{ i, want int }{{3, 3}, {8, 4}, {16, 16}, {17, 17}, {23, 21}, {len(s), 21}} {
		if got := r.CutBefore(s, tc.i); got != tc.want {
			t.Errorf("CutBefore(%q, %d) = %d, want %d", s, tc.i, got, tc.want)
		}
	}
}

func TestForAPIBoundsPagesAndLearnsSecrets(t *testing.T) {
	for _, n := range []int{0, -1} {
		hc, pages := httpx.ForAPI(nil, n, 30, "tok-123")
		if pages != 30 {
			t.Errorf("maxPages %d: bound %d, want the default 30", n, pages)
		}
		if got := hc.Redactor().Redact("token tok-123"); strings.Contains(got, "tok-123") {
			t.Errorf("the client's redactor does not know the token: %q", got)
		}
	}
	if _, pages := httpx.ForAPI(nil, 5, 30); pages != 5 {
		t.Errorf("maxPages 5: bound %d", pages)
	}
}

func TestAuthHintOnlyOnRefusedCredentials(t *testing.T) {
	for status, want := range map[int]bool{401: true, 403: true, 404: false, 500: false} {
		err := httpx.AuthHint(fmt.Errorf("get: %w", &httpx.StatusError{API: "X", Status: status}), "check the token")
		if got := strings.HasSuffix(err.Error(), " (check the token)"); got != want {
			t.Errorf("HTTP %d: %q", status, err)
		}
		var se *httpx.StatusError
		if !errors.As(err, &se) {
			t.Errorf("HTTP %d: the status error is lost", status)
		}
	}
	if httpx.AuthHint(nil, "x") != nil {
		t.Error("a nil error gained a hint")
	}
}
