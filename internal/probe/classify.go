package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Kind classifies why an attempt got no complete response. Its text is
// short and holds no URL, so reports can count failures by it.
type Kind string

const (
	KindNone      Kind = ""
	KindTimeout   Kind = "timeout"            // the attempt's own timeout
	KindDeadline  Kind = "deadline"           // the caller's run ended first
	KindCancelled Kind = "cancelled"          // the caller stopped
	KindDNS       Kind = "DNS lookup failed"  // the name did not resolve
	KindRefused   Kind = "connection refused" // nothing listens
	KindReset     Kind = "connection reset"
	KindClosed    Kind = "connection closed early" // EOF before a complete response
	KindTLS       Kind = "TLS error"
	KindRedirects Kind = "redirect loop"
	KindRequest   Kind = "bad request" // the request could not be built
	KindOther     Kind = "transport error"
)

// classify names a failure (Kind) and says in a few words why (reason, with
// no URL: the caller shows the URL redacted). run is the caller's context,
// attempt the attempt's: when the run's deadline cut the attempt short, the
// attempt's timeout is not the reason.
func classify(run, attempt context.Context, err error, inBody bool, timeout time.Duration) (Kind, string) {
	err = bare(err)
	var dnsErr *net.DNSError
	switch {
	case errors.Is(run.Err(), context.DeadlineExceeded):
		if inBody {
			return KindDeadline, "deadline reached while reading the body"
		}
		return KindDeadline, "deadline reached before a response"
	case errors.Is(run.Err(), context.Canceled):
		return KindCancelled, "cancelled"
	case errors.As(err, &dnsErr):
		// Before the timeout case: a lookup that timed out is a DNS problem.
		return KindDNS, fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(attempt.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		if inBody {
			return KindTimeout, fmt.Sprintf("body not complete within %s", timeout)
		}
		return KindTimeout, fmt.Sprintf("no response within %s", timeout)
	case errors.Is(err, context.Canceled):
		return KindCancelled, "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused, "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return KindReset, "connection reset by peer"
	case strings.Contains(err.Error(), "stopped after 10 redirects"):
		return KindRedirects, "redirect loop: stopped after 10 redirects"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return KindClosed, "connection closed before a complete response"
	}
	if reason := tlsReason(err); reason != "" {
		return KindTLS, reason
	}
	return KindOther, err.Error()
}

// bare is err without the URL net/http puts in it: the caller shows the URL,
// redacted.
func bare(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// tlsReason says what went wrong in a TLS handshake, or "".
func tlsReason(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownCA) || (errors.As(err, &verify) && errors.As(verify.Err, &unknownCA)):
		return "TLS: certificate signed by an unknown authority (set ca_file, or insecure for a test server)"
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS: %v", hostErr)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS: %v", invalid)
	case errors.As(err, &verify):
		return fmt.Sprintf("TLS: %v", verify.Err)
	case remoteTLSAlert(err) != "":
		// The server ended the handshake, most often for want of a client
		// certificate.
		return fmt.Sprintf("TLS: the server refused the connection (%s); does it need client_cert and client_key?", remoteTLSAlert(err))
	}
	return ""
}

// remoteTLSAlert returns the alert a server sent to end a TLS connection
// ("tls: certificate required"), or "". crypto/tls does not export the type.
func remoteTLSAlert(err error) string {
	const mark = "remote error: "
	msg := err.Error()
	if i := strings.Index(msg, mark+"tls: "); i >= 0 {
		return msg[i+len(mark):]
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
