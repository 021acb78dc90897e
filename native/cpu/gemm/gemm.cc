#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "../../core/errors.h"
#include "../../core/scratch.h"
#include "../../core/thread_pool.h"

namespace shears::cpu {

const GemmKernels& gemm_kernels(Isa isa) {
  switch (isa) {
#ifdef SHEARS_HAVE_AVX2
    case Isa::kAvx2: return gemm_kernels_avx2();
#endif
#ifdef SHEARS_HAVE_AVX512
    case Isa::kAvx512: return gemm_kernels_avx512();
#endif
#ifdef SHEARS_HAVE_NEON
    case Isa::kNeon: return gemm_kernels_neon();
#endif
    default: return gemm_kernels_scalar();
  }
}

namespace {

// Packs depth [p0, p0+kc) x columns [j0, j0+ncols) of op(B) into one NR-column panel, zero-padded.
void pack_b_panel(const float* b, int64_t k, int64_t n, bool trans_b, int64_t p0, int64_t kc,
                  int64_t j0, int64_t ncols, int nr, float* dst) {
  for (int64_t p = 0; p < kc; ++p) {
    float* d = dst + p * nr;
    if (trans_b) {
      const float* src = b + j0 * k + p0 + p;
      for (int64_t c = 0; c < ncols; ++c) d[c] = src[c * k];
    } else {
      std::memcpy(d, b + (p0 + p) * n + j0, static_cast<size_t>(ncols) * sizeof(float));
    }
    for (int64_t c = ncols; c < nr; ++c) d[c] = 0.0f;
  }
}

}  // namespace

void gemm(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n, bool trans_a,
          bool trans_b) {
  gemm(gemm_kernels(active_isa()), a, b, c, m, k, n, trans_a, trans_b);
}

void gemm(const GemmKernels& kern, const float* a, const float* b, float* c, int64_t m, int64_t k,
          int64_t n, bool trans_a, bool trans_b) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  const int mr = kern.mr, nr = kern.nr;
  const int threads = ThreadPool::instance().num_threads();
  // A blocks of at most kern.mc rows (a multiple of MR), their count a multiple of the thread
  // count so that no thread idles at the end of a block sweep.
  const int64_t per_thread = (m + int64_t{threads} * kern.mc - 1) / (int64_t{threads} * kern.mc);
  int64_t mc = (m + per_thread * threads - 1) / (per_thread * threads);
  mc = std::max<int64_t>(mr, (mc + mr - 1) / mr * mr);
  const int64_t kc_max = std::min<int64_t>(kern.kc, k);
  // B blocks are whole NR panels: the packed block holds ceil(nc / nr) panels of nr columns, so
  // an nc that is not a multiple of nr (NEON: 2048 vs 12) would overflow the kc * nc buffer.
  const int64_t nc_max = std::min<int64_t>(std::max<int64_t>(nr, kern.nc / nr * nr), (n + nr - 1) / nr * nr);

  AlignedBuffer bp(static_cast<size_t>(kc_max * nc_max));
  const int64_t m_blocks = (m + mc - 1) / mc;

  for (int64_t jc = 0; jc < n; jc += nc_max) {
    const int64_t nc = std::min<int64_t>(nc_max, n - jc);
    const int64_t n_panels = (nc + nr - 1) / nr;
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min<int64_t>(kc_max, k - pc);
      const bool accumulate = pc > 0;
      float* bpack = bp.data();
      ThreadPool::instance().run(n_panels, [&](int64_t jp, int) {
        const int64_t j0 = jp * nr;
        pack_b_panel(b, k, n, trans_b, pc, kc, jc + j0, std::min<int64_t>(nr, nc - j0), nr,
                     bpack + jp * kc * nr);
      });
      ThreadPool::instance().run(m_blocks, [&](int64_t ib, int) {
        const int64_t i0 = ib * mc;
        const int64_t mcur = std::min<int64_t>(mc, m - i0);
        float* apack = thread_scratch(0, static_cast<size_t>((mc + mr) * kc));
        kern.pack_a(a, m, k, trans_a, i0, mcur, pc, kc, apack);
        alignas(64) float tile[32 * 64];
        for (int64_t jp = 0; jp < n_panels; ++jp) {
          const int64_t j0 = jp * nr;
          const int64_t cols = std::min<int64_t>(nr, nc - j0);
          for (int64_t ir = 0; ir < mcur; ir += mr) {
            const int64_t rows = std::min<int64_t>(mr, mcur - ir);
            float* cblk = c + (i0 + ir) * n + jc + j0;
            const float* pa = apack + ir * kc;
            const float* pb = bpack + jp * kc * nr;
            if (rows == mr && cols == nr) {
              kern.ukernel(kc, pa, pb, cblk, n, accumulate);
            } else {
              kern.ukernel(kc, pa, pb, tile, nr, false);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t cc = 0; cc < cols; ++cc)
                  cblk[r * n + cc] = accumulate ? cblk[r * n + cc] + tile[r * nr + cc] : tile[r * nr + cc];
            }
          }
        }
      });
    }
  }
}

}  // namespace shears::cpu
