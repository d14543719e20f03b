//go:build !cgo || pmguard_wasm

package pgparse

import (
	"errors"
	"sync"

	pgquery "github.com/wasilibs/go-pgquery/parser"
)

const backend = "libpg_query (WebAssembly)"

// wasmMu serialises parses. go-pgquery keeps a pool of module instances and
// compiles a new one (about 2 s and 250 MB) whenever all are busy; one at a
// time keeps it to a single instance per process. The parse itself takes
// well under a millisecond, so nothing is lost.
var wasmMu sync.Mutex

func parseJSON(sql string) (string, error) {
	wasmMu.Lock()
	out, err := pgquery.ParseToJSON(sql)
	wasmMu.Unlock()
	if err != nil {
		var pe *pgquery.Error
		if errors.As(err, &pe) {
			return "", &Error{Message: pe.Message, Offset: cursorToOffset(sql, pe.Cursorpos)}
		}
		return "", err
	}
	return out, nil
}
