//go:build !cgo || pmguard_wasm

package pgparse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	_ "unsafe" // go:linkname, for the module go-pgquery embeds

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	_ "github.com/wasilibs/go-pgquery/parser" // links the module below into the binary
	"github.com/wasilibs/wazero-helpers/allocator"
)

const backend = "libpg_query (WebAssembly)"

// libPGQuery is libpg_query compiled to WebAssembly, as go-pgquery embeds
// it. go-pgquery compiles it in a runtime of its own, with an in-memory
// compilation cache and no way to pass another, so every process paid for
// the compile (about 2 s and 250 MB). pmguard instantiates the same module
// itself and calls the same C functions, with wazero's compilation cache on
// disk: the compile happens once per machine and wazero version.
//
//go:linkname libPGQuery github.com/wasilibs/go-pgquery/internal/wasm.LibPGQuery
var libPGQuery []byte

var (
	// wasmMu serialises parses: one module instance, which is not
	// reentrant. A parse takes well under a millisecond.
	wasmMu   sync.Mutex
	wasmOnce sync.Once
	instance *wasmParser
	errLoad  error
	// cacheDir is where compiled code is kept ("" for nowhere).
	cacheDir string
)

// UseCacheDir makes the parser keep its compiled code in dir, so that later
// processes load it instead of compiling it again; "" keeps it in memory
// only. It takes effect when called before the first parse. A directory
// that cannot be created or written is not used: the parser then compiles
// in memory, as without a cache.
func UseCacheDir(dir string) {
	wasmMu.Lock()
	cacheDir = dir
	wasmMu.Unlock()
}

func parseJSON(sql string) (string, error) {
	wasmMu.Lock()
	defer wasmMu.Unlock()
	wasmOnce.Do(func() {
		instance, errLoad = load(cacheDir)
		// Compiling leaves about 200 MB of garbage and a GC goal twice
		// that: collect it before the code search grows the heap on top.
		debug.FreeOSMemory()
	})
	if errLoad != nil {
		return "", errLoad
	}
	out, msg, cursor, err := instance.parse(sql)
	if err != nil {
		return "", fmt.Errorf("the WebAssembly parser failed: %w", err)
	}
	if msg != "" {
		return "", syntaxError(sql, msg, cursor)
	}
	return out, nil
}

// wasmParser is one instance of the module and the C functions it calls.
type wasmParser struct {
	rt                                wazero.Runtime // open for the life of the process
	mod                               api.Module
	malloc, free, parseFn, freeResult api.Function
	cached                            bool // compiled code kept in the cache directory
}

// load compiles (or loads from dir) and instantiates the module.
func load(dir string) (*wasmParser, error) {
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads)
	if cache := diskCache(dir); cache != nil {
		if p, err := instantiate(ctx, cfg.WithCompilationCache(cache)); err == nil {
			p.cached = true
			return p, nil
		}
		// an unreadable entry or a full disk: compile in memory instead
	}
	return instantiate(ctx, cfg)
}

// diskCache opens wazero's compilation cache in dir, or returns nil when
// dir is empty or cannot be written.
func diskCache(dir string) wazero.CompilationCache {
	if dir == "" || os.MkdirAll(dir, 0o700) != nil {
		return nil
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return nil
	}
	probe.Close()
	os.Remove(probe.Name())
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil
	}
	return cache
}

func instantiate(ctx context.Context, cfg wazero.RuntimeConfig) (*wasmParser, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	p, err := func() (*wasmParser, error) {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			return nil, err
		}
		if _, err := wasixHost(rt).Instantiate(ctx); err != nil {
			return nil, err
		}
		code, err := rt.CompileModule(ctx, libPGQuery)
		if err != nil {
			return nil, err
		}
		// the module's memory is shared (threads): it must not move
		mctx := experimental.WithMemoryAllocator(ctx, allocator.NewNonMoving())
		mod, err := rt.InstantiateModule(mctx, code, wazero.NewModuleConfig().WithSysNanotime().WithStartFunctions("_initialize"))
		if err != nil {
			return nil, err
		}
		p := &wasmParser{rt: rt, mod: mod, malloc: mod.ExportedFunction("malloc"), free: mod.ExportedFunction("free"),
			parseFn: mod.ExportedFunction("pg_query_parse"), freeResult: mod.ExportedFunction("pg_query_free_parse_result")}
		initFn := mod.ExportedFunction("pg_query_init")
		if p.malloc == nil || p.free == nil || p.parseFn == nil || p.freeResult == nil || initFn == nil {
			return nil, errors.New("the module lacks a libpg_query function")
		}
		_, err = initFn.Call(wasixContext(ctx))
		return p, err
	}()
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("loading the WebAssembly parser: %w", err)
	}
	return p, nil
}

// parse calls pg_query_parse(sql) and returns the JSON tree, or
// PostgreSQL's error message and its 1-based cursor position.
func (p *wasmParser) parse(sql string) (tree, msg string, cursor int, err error) {
	ctx := wasixContext(context.Background())
	mem := p.mod.Memory()
	in, err := p.call(ctx, p.malloc, uint64(len(sql)+1))
	if err != nil {
		return "", "", 0, err
	}
	defer p.call(ctx, p.free, in) //nolint:errcheck
	if !mem.WriteString(uint32(in), sql) || !mem.WriteByte(uint32(in)+uint32(len(sql)), 0) {
		return "", "", 0, errors.New("writing the SQL text into the module's memory")
	}
	// PgQueryParseResult {char *parse_tree; char *stderr_buffer; PgQueryError *error}
	res, err := p.call(ctx, p.malloc, 12)
	if err != nil {
		return "", "", 0, err
	}
	defer p.call(ctx, p.free, res) //nolint:errcheck
	if _, err := p.call(ctx, p.parseFn, res, in); err != nil {
		return "", "", 0, err
	}
	defer p.call(ctx, p.freeResult, res) //nolint:errcheck
	buf, ok := mem.Read(uint32(res), 12)
	if !ok {
		return "", "", 0, errors.New("reading the parse result")
	}
	if e := binary.LittleEndian.Uint32(buf[8:]); e != 0 {
		// PgQueryError {char *message; char *funcname; char *filename; int lineno; int cursorpos; char *context}
		c, _ := mem.ReadUint32Le(e + 16)
		return "", cString(mem, e), int(int32(c)), nil
	}
	return cString(mem, uint32(res)), "", 0, nil
}

func (p *wasmParser) call(ctx context.Context, f api.Function, args ...uint64) (uint64, error) {
	out, err := f.Call(ctx, args...)
	if err != nil || len(out) == 0 {
		return 0, err
	}
	return out[0], nil
}

// cString reads the NUL-terminated string that the pointer at ptrptr
// points to ("" for NULL).
func cString(mem api.Memory, ptrptr uint32) string {
	ptr, ok := mem.ReadUint32Le(ptrptr)
	if !ok || ptr == 0 {
		return ""
	}
	rest, ok := mem.Read(ptr, mem.Size()-ptr)
	if !ok {
		return ""
	}
	if n := bytes.IndexByte(rest, 0); n >= 0 {
		rest = rest[:n]
	}
	return string(rest)
}
