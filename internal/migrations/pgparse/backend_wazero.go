//go:build !cgo || pmguard_wasm

package pgparse

import (
	"errors"
	"runtime/debug"
	"sync"

	pgquery "github.com/wasilibs/go-pgquery/parser"
)

const backend = "libpg_query (WebAssembly)"

// wasmMu serialises parses. go-pgquery keeps a pool of module instances and
// compiles a new one (about 2 s and 250 MB) whenever all are busy; one at a
// time keeps it to a single instance per process. The parse itself takes
// well under a millisecond, so nothing is lost.
var wasmMu sync.Mutex

// compiled runs once the module is compiled: compiling leaves about 200 MB
// of garbage and a GC goal twice that, so without a collection here the
// code search that follows would grow the heap on top of it.
var compiled sync.Once

func parseJSON(sql string) (string, error) {
	wasmMu.Lock()
	out, err := pgquery.ParseToJSON(sql)
	wasmMu.Unlock()
	compiled.Do(debug.FreeOSMemory)
	if err != nil {
		var pe *pgquery.Error
		if errors.As(err, &pe) {
			return "", &Error{Message: pe.Message, Offset: cursorToOffset(sql, pe.Cursorpos)}
		}
		return "", err
	}
	return out, nil
}
