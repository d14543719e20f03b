//go:build !cgo || pmguard_wasm

package pgparse

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// The wasix_32v1 functions libpg_query's module imports, as go-pgquery
// implements them (internal/wasix32v1, MIT licence, wasilibs authors).
// PostgreSQL's parser reports a syntax error with longjmp: stack_checkpoint
// and stack_restore are setjmp and longjmp, built on wazero's snapshots.
// The module runs on one thread and gets no signals, so the thread, futex
// and signal functions are never called.

const wasixI32, wasixI64 = api.ValueTypeI32, api.ValueTypeI64

func wasixHost(rt wazero.Runtime) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder("wasix_32v1")
	export := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	never := func(name string) api.GoModuleFunc {
		return func(context.Context, api.Module, []uint64) { panic("wasix_32v1." + name + " called") }
	}
	i32, i64 := wasixI32, wasixI64
	export("callback_signal", never("callback_signal"), []api.ValueType{i32, i32}, nil)
	export("futex_wait", never("futex_wait"), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	export("futex_wake", never("futex_wake"), []api.ValueType{i32, i32}, []api.ValueType{i32})
	export("futex_wake_all", never("futex_wake_all"), []api.ValueType{i32, i32}, []api.ValueType{i32})
	export("thread_exit", never("thread_exit"), []api.ValueType{i32}, nil)
	export("thread_signal", never("thread_signal"), []api.ValueType{i32, i32}, []api.ValueType{i32})
	export("proc_id", procID, []api.ValueType{i32}, []api.ValueType{i32})
	export("stack_checkpoint", stackCheckpoint, []api.ValueType{i32, i32}, []api.ValueType{i32})
	export("stack_restore", stackRestore, []api.ValueType{i32, i64}, nil)
	return b
}

func procID(_ context.Context, m api.Module, stack []uint64) {
	m.Memory().WriteUint32Le(uint32(stack[0]), 1)
	stack[0] = 0
}

type wasixCheckpoint struct {
	snapshot      experimental.Snapshot
	retValPtr     uint32
	cstackPointer uint32
	cstack        []byte
}

type wasixState struct{ checkpoints []wasixCheckpoint }

type wasixKey struct{}

// wasixContext is the context of one call into the module: the snapshots
// stack_checkpoint takes live in it.
func wasixContext(ctx context.Context) context.Context {
	ctx = experimental.WithSnapshotter(ctx)
	return context.WithValue(ctx, wasixKey{}, &wasixState{})
}

// stackCheckpoint (setjmp) saves the C stack and a snapshot of the wasm
// stack, and returns 0.
func stackCheckpoint(ctx context.Context, mod api.Module, stack []uint64) {
	snapshotPtr, retValPtr := uint32(stack[0]), uint32(stack[1])
	d := ctx.Value(wasixKey{}).(*wasixState)
	sp := uint32(mod.ExportedGlobal("__stack_pointer").Get())
	top := uint32(mod.ExportedGlobal("__heap_base").Get())
	view, ok := mod.Memory().Read(sp, top-sp)
	if !ok {
		panic("stack_checkpoint: reading the C stack")
	}
	idx := len(d.checkpoints)
	d.checkpoints = append(d.checkpoints, wasixCheckpoint{
		snapshot: experimental.GetSnapshotter(ctx).Snapshot(), retValPtr: retValPtr,
		cstackPointer: sp, cstack: append([]byte(nil), view...),
	})
	if !mod.Memory().WriteUint64Le(snapshotPtr, uint64(idx)) || !mod.Memory().WriteUint64Le(retValPtr, 0) {
		panic("stack_checkpoint: writing the snapshot")
	}
	stack[0] = 0
}

// stackRestore (longjmp) puts the C stack back and resumes at the
// checkpoint with the value given.
func stackRestore(ctx context.Context, mod api.Module, stack []uint64) {
	snapshotPtr, ret := uint32(stack[0]), stack[1]
	idx, ok := mod.Memory().ReadUint64Le(snapshotPtr)
	if !ok {
		panic("stack_restore: reading the snapshot")
	}
	c := ctx.Value(wasixKey{}).(*wasixState).checkpoints[idx]
	mod.ExportedGlobal("__stack_pointer").(api.MutableGlobal).Set(uint64(c.cstackPointer))
	mod.Memory().Write(c.cstackPointer, c.cstack)
	mod.Memory().WriteUint64Le(c.retValPtr, ret)
	stack[0] = 0
	c.snapshot.Restore(stack[:1])
}
