package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pmguard/pmguard/internal/httpx"
)

func TestQuote(t *testing.T) {
	const secret = "tok-Quote-Secret-99"
	r := httpx.NewRedactor(secret)
	if got := r.Quote("  two\n\tlines  "); got != "two lines" {
		t.Errorf("Quote = %q", got)
	}
	// A secret across the cut is redacted before the cut, not after.
	s := strings.Repeat("a", httpx.MaxQuote-5) + secret + strings.Repeat("b", 3<<20)
	got := r.Quote(s)
	if utf8.RuneCountInString(got) > httpx.MaxQuote+40 || !strings.Contains(got, "more bytes]") || !utf8.ValidString(got) {
		t.Errorf("Quote of %d bytes gave %d: %q", len(s), len(got), got[len(got)-60:])
	}
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(got, secret[i:i+4]) {
			t.Fatalf("part %q of the secret shows: %q", secret[i:i+4], got[len(got)-60:])
		}
	}
	var nilR *httpx.Redactor
	if nilR.Quote("x") != "x" {
		t.Error("nil redactor")
	}
}

// An API's 3 MiB error message is quoted in part in the error.
func TestDoJSONBoundsTheServersWords(t *testing.T) {
	huge := strings.Repeat("m", 3<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"message":%q}`, huge)
		case "/html":
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "<html>"+huge)
		}
	}))
	defer srv.Close()
	c := httpx.New(httpx.Options{Retries: -1})
	_, err := c.DoJSON(context.Background(), "Thing", http.MethodGet, srv.URL+"/json", nil, nil, nil)
	var se *httpx.StatusError
	if !errors.As(err, &se) || len(se.Message) > httpx.MaxQuote+40 || !strings.Contains(se.Message, "more bytes]") {
		t.Fatalf("error of %d bytes: %.200v", len(fmt.Sprint(err)), err)
	}
	var out struct{ X int }
	_, err = c.DoJSON(context.Background(), "Thing", http.MethodGet, srv.URL+"/html", nil, nil, &out)
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "more bytes]") {
		t.Fatalf("error of %d bytes: %.200v", len(fmt.Sprint(err)), err)
	}
}
