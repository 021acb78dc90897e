// Exact selection of the k smallest scores on the GPU, with the CPU engine's rules (select.h):
// keys in float order (-0 == +0), the NaN policy, eligibility, |score| with `absolute`, and ties
// broken by index (the lowest index is selected first). Three radix passes (11 + 11 + 10 bits)
// over the keys find the k-th key exactly; the mask pass then ranks the ties at it by index with a
// per-block count and a scan of those counts.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../cpu/select/select.h"
#include "check.h"
#include "kernels.h"
#include "memory.h"

namespace shears::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kBins = 2048;
constexpr int kShift[3] = {21, 10, 0};
constexpr unsigned kDigits[3] = {2048, 2048, 1024};

__device__ __forceinline__ unsigned key_of(float f, unsigned nan_key, bool absolute) {
  unsigned u = __float_as_uint(f);
  if (absolute) u &= 0x7FFFFFFFu;
  const unsigned mag = u & 0x7FFFFFFFu;
  if (mag == 0) u = 0;  // -0 is +0
  if (mag > 0x7F800000u) return nan_key;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Histogram of digit `shift` over the eligible keys whose bits above it equal `prefix` (under
// `prefix_mask`); also counts NaN scores (pass 0) and records the first NaN's index.
__global__ void histogram_kernel(const float* __restrict__ s, const unsigned char* __restrict__ el, long long n,
                                 unsigned nan_key, bool absolute, unsigned prefix, unsigned prefix_mask, int shift,
                                 unsigned digit_mask, unsigned long long* __restrict__ hist,
                                 unsigned long long* __restrict__ nans, long long* __restrict__ first_nan) {
  __shared__ unsigned local[kBins];
  for (int b = threadIdx.x; b < kBins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  unsigned my_nans = 0;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    if (el && !el[i]) continue;
    const float f = s[i];
    if (nans && f != f) {
      ++my_nans;
      atomicMin(reinterpret_cast<unsigned long long*>(first_nan), static_cast<unsigned long long>(i));
    }
    const unsigned key = key_of(f, nan_key, absolute);
    if ((key & prefix_mask) == prefix) atomicAdd(&local[(key >> shift) & digit_mask], 1u);
  }
  __syncthreads();
  for (int b = threadIdx.x; b < kBins; b += blockDim.x)
    if (local[b]) atomicAdd(&hist[b], static_cast<unsigned long long>(local[b]));
  if (nans && my_nans) atomicAdd(nans, static_cast<unsigned long long>(my_nans));
}

// Per block: how many eligible keys equal the threshold (in this block's contiguous range).
__global__ void tie_count_kernel(const float* __restrict__ s, const unsigned char* __restrict__ el, long long n,
                                 unsigned nan_key, bool absolute, unsigned threshold, long long per_block,
                                 unsigned long long* __restrict__ counts) {
  __shared__ unsigned total;
  if (threadIdx.x == 0) total = 0;
  __syncthreads();
  const long long b0 = blockIdx.x * per_block, b1 = min(n, b0 + per_block);
  unsigned mine = 0;
  for (long long i = b0 + threadIdx.x; i < b1; i += blockDim.x)
    mine += (!el || el[i]) && key_of(s[i], nan_key, absolute) == threshold;
  atomicAdd(&total, mine);
  __syncthreads();
  if (threadIdx.x == 0) counts[blockIdx.x] = total;
}

// mask[i] = 0 when selected (key below the threshold, or one of the first `ties` equal keys in
// index order) or not eligible, else 1. `ties_before[b]`: equal keys in the blocks before b.
__global__ void mask_kernel(const float* __restrict__ s, const unsigned char* __restrict__ el, long long n,
                            unsigned nan_key, bool absolute, unsigned threshold, long long per_block,
                            const unsigned long long* __restrict__ ties_before, unsigned long long ties,
                            unsigned char* __restrict__ mask) {
  __shared__ unsigned long long running;  // equal keys seen in this block so far, in index order
  __shared__ unsigned warp_counts[kThreads / 32];
  if (threadIdx.x == 0) running = ties_before[blockIdx.x];
  __syncthreads();
  const long long b0 = blockIdx.x * per_block, b1 = min(n, b0 + per_block);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (long long base = b0; base < b1; base += blockDim.x) {
    const long long i = base + threadIdx.x;
    const bool in = i < b1;
    const bool eligible = in && (!el || el[i]);
    const unsigned key = eligible ? key_of(s[i], nan_key, absolute) : 0u;
    const bool tie = eligible && key == threshold;
    // Rank of this tie among the ties of this stride, in index order: warp ballots, then warps.
    const unsigned ballot = __ballot_sync(0xffffffffu, tie);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    unsigned before = __popc(ballot & ((1u << lane) - 1u));
    for (int w = 0; w < warp; ++w) before += warp_counts[w];
    const unsigned long long rank = running + before;
    if (in) mask[i] = eligible && (key > threshold || (tie && rank >= ties)) ? 1 : 0;
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned stride_ties = 0;
      for (int w = 0; w < kThreads / 32; ++w) stride_ties += warp_counts[w];
      running += stride_ties;
    }
    __syncthreads();
  }
}

// At least one block: with no scores at all the histogram pass still runs (and finds nothing).
unsigned grid_for(long long n) { return static_cast<unsigned>(std::max<long long>(1, std::min<long long>((n + kThreads - 1) / kThreads, 4096))); }

}  // namespace

cpu::SelectResult select_smallest_device(const float* ds, const unsigned char* el, int64_t n, int64_t k, cpu::NanPolicy nan,
                                         bool absolute, unsigned char* dm,
                                         const std::function<std::string(int64_t)>& name_of) {
  const unsigned nan_key = nan == cpu::NanPolicy::kKeep ? 0xFFFFFFFFu : 0u;
  DeviceBuffer<unsigned long long> hist(kBins), counters(2);
  std::vector<unsigned long long> h(kBins);
  cpu::SelectResult result;
  result.selected = k;
  unsigned prefix = 0, prefix_mask = 0;
  int64_t rank = k;
  for (int pass = 0; pass < 3; ++pass) {
    check(cudaMemset(hist.data(), 0, kBins * sizeof(unsigned long long)), "cudaMemset");
    if (pass == 0) {
      check(cudaMemset(counters.data(), 0, sizeof(unsigned long long)), "cudaMemset");
      check(cudaMemset(counters.data() + 1, 0xFF, sizeof(unsigned long long)), "cudaMemset");
    }
    histogram_kernel<<<grid_for(n), kThreads>>>(ds, el, n, nan_key, absolute, prefix, prefix_mask, kShift[pass],
                                                kDigits[pass] - 1, hist.data(), pass == 0 ? counters.data() : nullptr,
                                                reinterpret_cast<long long*>(counters.data() + 1));
    check_launch("histogram_kernel");
    hist.download(h.data(), kBins);
    if (pass == 0) {
      unsigned long long c[2];
      counters.download(c, 2);
      for (unsigned long long v : h) result.eligible += static_cast<int64_t>(v);
      if (c[0] > 0 && nan == cpu::NanPolicy::kError) {
        // Name the first NaN as the CPU engine does.
        throw Error(ErrorKind::kRange, "Expected scores that are numbers (±Infinity included) but " + name_of(static_cast<int64_t>(c[1])) +
                                           " is NaN (pass nan: 'prune' or 'keep' to rank NaN scores)");
      }
      if (k < 0 || k > result.eligible)
        throw Error(ErrorKind::kRange, "Expected an amount between 0 and the " + std::to_string(result.eligible) +
                                           " eligible entries but received " + std::to_string(k));
      if (k == 0) break;
    }
    unsigned digit = 0;
    for (; digit < kDigits[pass]; ++digit) {
      if (rank <= static_cast<int64_t>(h[digit])) break;
      rank -= static_cast<int64_t>(h[digit]);
    }
    prefix |= digit << kShift[pass];
    prefix_mask |= (kDigits[pass] - 1) << kShift[pass];
  }
  // k == 0: nothing selected; threshold 0 with no ties to take keeps every eligible entry.
  const unsigned threshold = k == 0 ? 0u : prefix;
  const unsigned long long ties = k == 0 ? 0 : static_cast<unsigned long long>(rank);
  const long long per_block = 4096;
  const long long blocks = std::max<long long>(1, (n + per_block - 1) / per_block);
  DeviceBuffer<unsigned long long> counts(blocks);
  std::vector<unsigned long long> before(static_cast<size_t>(blocks));
  if (k > 0) {
    tie_count_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(ds, el, n, nan_key, absolute, threshold,
                                                                   per_block, counts.data());
    check_launch("tie_count_kernel");
    counts.download(before.data(), blocks);
    unsigned long long sum = 0;
    for (auto& c : before) {
      const unsigned long long v = c;
      c = sum;
      sum += v;
    }
  }
  counts.upload(before.data(), blocks);
  if (n > 0) {
    mask_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(ds, el, n, nan_key, absolute,
                                                             k == 0 ? 0u : threshold, per_block, counts.data(),
                                                             k == 0 ? 0ull : ties, dm);
    check_launch("mask_kernel");
  }
  // With k == 0 the kernel keeps keys above 0 and ranks key-0 ties past `ties` = 0: every eligible
  // entry is kept, NaN under 'prune' (key 0) included.
  if (k > 0) {
    const unsigned u = (threshold & 0x80000000u) ? (threshold & 0x7FFFFFFFu) : ~threshold;
    std::memcpy(&result.threshold, &u, sizeof u);
  } else {
    result.threshold = std::numeric_limits<float>::quiet_NaN();
  }
  // The scratch blocks go back to the allocator, which does not track streams: finish first.
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return result;
}

cpu::SelectResult select_smallest_host(std::vector<cpu::ScoreBuffer>& buffers, int64_t k, cpu::NanPolicy nan,
                                       bool absolute, bool /*scratch_masks: the masks are written at the end anyway*/) {
  require_usable();
  // One device array for all buffers (global index order = buffer order, then index).
  int64_t n = 0;
  bool any_eligible = false;
  for (const auto& b : buffers) {
    n += b.count;
    any_eligible = any_eligible || b.eligible;
  }
  DeviceBuffer<float> ds(n);
  DeviceBuffer<unsigned char> de(any_eligible ? n : 0), dm(n);
  int64_t at = 0;
  for (const auto& b : buffers) {
    if (b.count) copy_to_device(ds.data() + at, b.scores, static_cast<size_t>(b.count) * sizeof(float));
    if (any_eligible && b.count) {
      if (b.eligible) copy_to_device(de.data() + at, b.eligible, static_cast<size_t>(b.count));
      else check(cudaMemset(de.data() + at, 1, static_cast<size_t>(b.count)), "cudaMemset");
    }
    at += b.count;
  }
  auto name_of = [&](int64_t g) {  // global index -> "scores[buffer][index]"
    size_t b = 0;
    while (b + 1 < buffers.size() && g >= buffers[b].count) g -= buffers[b++].count;
    return "scores[" + std::to_string(b) + "][" + std::to_string(g) + "]";
  };
  const cpu::SelectResult result =
      select_smallest_device(ds.data(), any_eligible ? de.data() : nullptr, n, k, nan, absolute, dm.data(), name_of);
  at = 0;
  for (auto& b : buffers) {
    if (b.count) copy_to_host(b.mask, dm.data() + at, static_cast<size_t>(b.count));
    at += b.count;
  }
  return result;
}

}  // namespace shears::cuda
