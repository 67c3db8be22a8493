// The interface between a kernel compiled for cuda-emu and the emulator that runs it
// (runtime/emu_*): what a CUDA thread can ask of its block and warp. Plain C, so that both sides
// agree on it whatever compiles them. The emulator defines these functions in the host program;
// the loader hands their addresses to each JIT-compiled kernel (runtime/emu_services.cpp).
//
// Every function acts for the calling CUDA thread, the fiber that is running. The collective
// ones (barriers, shuffles, ldmatrix, mma) return once every thread they involve has called them;
// meanwhile the other threads run.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef struct QkEmuDim3 {
  unsigned x, y, z;
} QkEmuDim3;

/// What a CUDA thread knows about itself: CUDA's built-in variables and its block's shared memory.
typedef struct QkEmuThread {
  QkEmuDim3 thread_idx, block_idx, block_dim, grid_dim;
  unsigned char* shared;  ///< the block's dynamic shared memory: shared-space address 0
  unsigned shared_bytes;
} QkEmuThread;

/// The calling thread.
const QkEmuThread* qk_emu_thread(void);

/// __syncthreads: returns when every thread of the block has called it.
void qk_emu_sync_block(void);

/// The warp-level exchanges of __shfl_*_sync: lane l receives `value` of a source lane.
enum { QK_EMU_SHFL_IDX = 0, QK_EMU_SHFL_UP = 1, QK_EMU_SHFL_DOWN = 2, QK_EMU_SHFL_XOR = 3 };
unsigned qk_emu_shfl(unsigned mask, unsigned value, int mode, int lane_arg, int width);

/// __ballot_sync: bit l is lane l's predicate.
unsigned qk_emu_ballot(unsigned mask, int predicate);

/// ldmatrix.sync.aligned.m8n8.x{count}{.trans}.shared.b16 with this lane's row address (a
/// shared-space address); writes `count` registers.
void qk_emu_ldmatrix(unsigned address, int count, int transpose, unsigned* registers);

/// The mma.sync shapes and types (all .row.col): A, B and C/D registers as the PTX ISA's fragments.
enum {
  QK_EMU_MMA_M16N8K32_S8_S32 = 0,         ///< m16n8k32 .s32.s8.s8.s32: a[4], b[2], int c/d[4]
  QK_EMU_MMA_M16N8K16_F16_F32 = 1,        ///< m16n8k16 .f32.f16.f16.f32: a[4], b[2], float c/d[4]
  QK_EMU_MMA_M16N8K16_BF16_F32 = 2,       ///< m16n8k16 .f32.bf16.bf16.f32
  QK_EMU_MMA_M16N8K32_E4M3_E4M3_F32 = 3,  ///< m16n8k32 .f32.e4m3.e4m3.f32 (A type, then B type)
  QK_EMU_MMA_M16N8K32_E5M2_E4M3_F32 = 4,  ///< m16n8k32 .f32.e5m2.e4m3.f32
  QK_EMU_MMA_M16N8K32_E4M3_E5M2_F32 = 5,  ///< m16n8k32 .f32.e4m3.e5m2.f32
  QK_EMU_MMA_M16N8K32_E5M2_E5M2_F32 = 6,  ///< m16n8k32 .f32.e5m2.e5m2.f32
};
/// mma.sync of `shape` for this lane's fragments: d = a · b + c (d may be c), c and d 4 values of
/// the shape's accumulator type.
void qk_emu_mma(int shape, const unsigned* a, const unsigned* b, const void* c, void* d);

/// cp.async.cg.shared.global of `size` bytes (4, 8 or 16) to shared-space address `shared`,
/// reading `src_size` bytes of `global` (the rest of the destination is zero-filled).
void qk_emu_cp_async(unsigned shared, const void* global, int size, int src_size);
/// cp.async.commit_group.
void qk_emu_cp_async_commit(void);
/// cp.async.wait_group `pending`: the copies of all but the newest `pending` groups are done.
void qk_emu_cp_async_wait(int pending);

/// Stops the launch with an error: the kernel did something the emulator cannot run faithfully.
/// Never returns: the thread is not resumed, and the launch reports `message`.
__attribute__((noreturn)) void qk_emu_fail(const char* message);

#ifdef __cplusplus
}
#endif
