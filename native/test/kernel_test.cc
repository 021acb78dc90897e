// Native kernel tests: every ISA variant compiled in AND runnable here (shears::available_isas())
// against the scalar variant and a plain double-precision reference written below. No N-API: this
// links the core and cpu sources only (CMake target kernel_test, scripts/native-tests.sh).
//
//   kernel_test [--seed N | N] [--quick] [--verbose] [--timeout SECONDS] [--only SECTION,...]
//
// XNNPACK-style: inputs are fresh random numbers from a printed seed (rerun with --seed to get the
// same ones); every output is pre-filled with NaN and followed by NaN guard elements, so an element
// a kernel forgot to write, or one it wrote past the end, shows. Shapes are chosen below, at and
// above the register tiles and vector widths of every variant (scalar 1, NEON 4, AVX2 8, AVX-512
// 16 lanes; GEMM tiles 4x8, 8x12, 6x16, 14x32), plus empty matrices, empty rows, 1x1, n = 1, and a
// few rows far longer than the rest. Covered: gemm (all transposes), csr spmm / spmv / spmmt /
// sddmm (including the K-panelled and transpose-then-spmm paths), bsr spmm / spmv / spmmt / sddmm
// for 1x4 ... 32x32 and rectangular blocks, the conversions of convert.h (exact), structure
// validation, the thread pool, and results across thread counts. Each (kernel, ISA, shape) is one
// test case; the last line is "N passed, N failed", and the exit status is non-zero when any case
// failed.
//
// --quick shrinks the largest shapes and the random and thread-pool rounds (used under qemu for
// the arm64 build). A watchdog turns a hang (a deadlock) into a failure after --timeout seconds.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../core/cpu_features.h"
#include "../core/errors.h"
#include "../core/thread_pool.h"
#include "../cpu/gemm/gemm.h"
#include "../cpu/sparse/convert.h"
#include "../cpu/sparse/sparse.h"
#include "../cpu/select/select.h"

namespace {

using shears::Isa;
namespace cpu = shears::cpu;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kGuard = 16;  // NaN elements after every output
constexpr int kMaxReports = 3;  // mismatches printed per case

// ---------------------------------------------------------------------------------------------
// Options, random numbers, tallies

struct Options {
  uint64_t seed = 0;
  bool quick = false;
  bool verbose = false;
  int timeout = 600;  // seconds before the watchdog reports a hang
  std::string only;   // comma-separated sections to run (all when empty)
};
Options g_opt;

// mt19937_64 is specified exactly by the standard and the mappings below are ours, so a seed gives
// the same inputs with every compiler, standard library and architecture.
std::mt19937_64 g_rng;

float uniform() {  // in [-1, 1), 24 random bits: exactly representable
  return static_cast<float>(static_cast<double>(g_rng() >> 40) * 0x1p-23 - 1.0);
}
int64_t below(int64_t n) { return n <= 0 ? 0 : static_cast<int64_t>(g_rng() % static_cast<uint64_t>(n)); }
bool chance(double p) { return static_cast<double>(g_rng() >> 11) * 0x1p-53 < p; }

std::vector<float> random_values(int64_t count, double zero_fraction = 0.0) {
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = (zero_fraction > 0.0 && chance(zero_fraction)) ? 0.0f : uniform();
  return v;
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

struct Tally {
  int64_t passed = 0, failed = 0;
};
Tally g_total, g_section;
std::atomic<const char*> g_current_section{"start"};  // for the watchdog's message

void record(const std::string& label, bool ok) {
  if (ok) {
    ++g_total.passed;
    ++g_section.passed;
    if (g_opt.verbose) {
      std::printf("  ok   %s\n", label.c_str());
      std::fflush(stdout);  // qemu and pipes buffer fully: show progress before a crash
    }
  } else {
    ++g_total.failed;
    ++g_section.failed;
    std::printf("  FAIL %s\n", label.c_str());
  }
}

template <class F>
void section(const char* name, uint64_t salt, F body) {
  if (!g_opt.only.empty() && ("," + g_opt.only + ",").find(std::string(",") + name + ",") == std::string::npos) return;
  g_current_section.store(name);
  g_rng.seed(g_opt.seed * 0x9E3779B97F4A7C15ull + salt);  // each section reproducible on its own
  g_section = {};
  const auto t0 = std::chrono::steady_clock::now();
  try {
    body();
  } catch (const std::exception& e) {
    std::printf("  FAIL %s: unexpected exception: %s\n", name, e.what());
    ++g_total.failed;
    ++g_section.failed;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("-- %-9s %5lld cases, %lld failed, %.2f s\n", name,
              static_cast<long long>(g_section.passed + g_section.failed),
              static_cast<long long>(g_section.failed), s);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Reference results and comparison
//
// Tolerance for an output element that is a sum of products: |got - ref| <= 1e-6 + 1e-5 * S,
// where ref is the sum computed in double precision and S = sum of |terms| of that element.
// This is the float32 forward-error bound for a reduction: in any summation order, with or
// without FMA, |fl(sum) - sum| <= gamma_k * S with gamma_k ~ k * 2^-24 for k terms, and because
// the rounding errors are independent in practice the error grows like sqrt(k) * 2^-24 * S;
// 1e-5 * S covers that with a wide margin for the depths used here (k <= ~3000). The scale must
// be S and not |ref|: near cancellation |ref| is tiny while the rounding error of each partial
// sum is not, so a relative-to-|ref| bound fails correct kernels (and a loose one hides wrong
// ones). The 1e-6 absolute term covers S == 0. A SIMD variant must also be within twice that of
// the scalar variant (both are within the bound of the reference).
double tolerance(double scale) { return 1e-6 + 1e-5 * scale; }

struct Ref {
  std::vector<double> value, scale;  // per output element: exact-ish sum and S
  explicit Ref(int64_t count) : value(static_cast<size_t>(count), 0.0), scale(static_cast<size_t>(count), 0.0) {}
  void add(int64_t i, double a, double b) {
    const double t = a * b;
    value[i] += t;
    scale[i] += std::fabs(t);
  }
  int64_t size() const { return static_cast<int64_t>(value.size()); }
};

// An output buffer: `count` NaNs followed by kGuard NaNs.
struct Out {
  std::vector<float> buf;
  explicit Out(int64_t count) : buf(static_cast<size_t>(count + kGuard), kNaN) {}
  float* data() { return buf.data(); }
};

std::string where(int64_t i, int64_t ld) {
  if (ld > 0) return fmt("(%lld, %lld)", static_cast<long long>(i / ld), static_cast<long long>(i % ld));
  return fmt("[%lld]", static_cast<long long>(i));
}

// Checks got[0..count) against ref (and against the scalar variant's output when given), and that
// the guard elements after it are still NaN. Prints the first few mismatches.
bool verify(const std::string& label, const float* got, int64_t count, int64_t ld, const Ref& ref,
            const float* scalar) {
  int64_t bad = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double e = ref.value[i], tol = tolerance(ref.scale[i]), g = got[i];
    const char* why = nullptr;
    if (std::isnan(g)) why = "not written (still NaN)";
    else if (!(std::fabs(g - e) <= tol)) why = "outside the tolerance of the double reference";
    else if (scalar != nullptr && !(std::fabs(g - static_cast<double>(scalar[i])) <= 2 * tol))
      why = "outside the tolerance of the scalar variant";
    if (why == nullptr) continue;
    if (bad < kMaxReports) {
      std::printf("       %s at %s: got %.9g, expected %.9g", label.c_str(), where(i, ld).c_str(), g, e);
      if (scalar != nullptr) std::printf(", scalar %.9g", static_cast<double>(scalar[i]));
      std::printf(" (tol %.3g, S %.4g): %s\n", tol, ref.scale[i], why);
    }
    ++bad;
  }
  for (int64_t g = 0; g < kGuard; ++g) {
    if (!std::isnan(got[count + g])) {
      std::printf("       %s: wrote past the end of the output (element %lld of %lld)\n", label.c_str(),
                  static_cast<long long>(count + g), static_cast<long long>(count));
      ++bad;
      break;
    }
  }
  if (bad > kMaxReports) std::printf("       ... %lld mismatches in all\n", static_cast<long long>(bad));
  return bad == 0;
}

using RunFn = std::function<void(Isa, float*)>;

// Runs one operation with every available ISA (scalar first) into NaN-filled buffers and checks
// each; one test case per ISA.
void run_all_isas(const std::string& kernel, const std::string& shape, int64_t count, int64_t ld,
                  const Ref& ref, const RunFn& run) {
  std::vector<float> scalar;
  for (Isa isa : shears::available_isas()) {
    Out out(count);
    const std::string label = kernel + " [" + shears::isa_name(isa) + "] " + shape;
    bool ok = true;
    try {
      run(isa, out.data());
    } catch (const std::exception& e) {
      std::printf("       %s: threw: %s\n", label.c_str(), e.what());
      ok = false;
    }
    const bool have_scalar = isa != Isa::kScalar && scalar.size() == static_cast<size_t>(count);
    if (ok) ok = verify(label, out.data(), count, ld, ref, have_scalar ? scalar.data() : nullptr);
    if (isa == Isa::kScalar) scalar.assign(out.buf.begin(), out.buf.begin() + count);
    record(label, ok);
  }
}

// ---------------------------------------------------------------------------------------------
// Sparse test matrices

enum class Pattern {
  kUniform,      // each entry kept with probability `density`
  kEmptyRows,    // two rows in three empty, the rest uniform
  kSkewed,       // uniform, plus rows 0 and rows/2 completely full ("a few very long rows")
  kUnsortedDup,  // columns in random order with repeats (the kernels must not assume sorted rows)
};
const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::kUniform: return "uniform";
    case Pattern::kEmptyRows: return "empty-rows";
    case Pattern::kSkewed: return "skewed";
    case Pattern::kUnsortedDup: return "unsorted+dups";
  }
  return "?";
}

struct CsrMat {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> ptr{0}, idx;
  std::vector<float> val;
  int64_t nnz() const { return static_cast<int64_t>(idx.size()); }
  cpu::CsrView view() const {
    cpu::CsrView v;
    v.rows = rows;
    v.cols = cols;
    v.ptr = ptr.data();
    v.idx = idx.data();
    v.val = val.data();
    v.stored = nnz();
    return v;
  }
};

CsrMat random_csr(int64_t rows, int64_t cols, double density, Pattern pat) {
  CsrMat a;
  a.rows = rows;
  a.cols = cols;
  for (int64_t i = 0; i < rows; ++i) {
    if (cols > 0) {
      if (pat == Pattern::kEmptyRows && i % 3 != 1) {
        // empty row
      } else if (pat == Pattern::kSkewed && (i == 0 || i == rows / 2)) {
        for (int64_t j = 0; j < cols; ++j) a.idx.push_back(static_cast<int32_t>(j));
      } else if (pat == Pattern::kUnsortedDup) {
        int64_t cnt = 0;
        for (int64_t j = 0; j < cols; ++j) cnt += chance(density);
        for (int64_t t = 0; t < cnt; ++t) a.idx.push_back(static_cast<int32_t>(below(cols)));
      } else {
        for (int64_t j = 0; j < cols; ++j)
          if (chance(density)) a.idx.push_back(static_cast<int32_t>(j));
      }
    }
    a.ptr.push_back(static_cast<int32_t>(a.idx.size()));
  }
  a.val = random_values(a.nnz());
  return a;
}

struct BsrMat {
  int64_t rows = 0, cols = 0, br = 1, bc = 1;
  std::vector<int32_t> ptr{0}, idx;
  std::vector<float> val;
  int64_t nnzb() const { return static_cast<int64_t>(idx.size()); }
  int64_t bsz() const { return br * bc; }
  cpu::BsrView view() const {
    cpu::BsrView v;
    v.rows = rows;
    v.cols = cols;
    v.br = br;
    v.bc = bc;
    v.ptr = ptr.data();
    v.idx = idx.data();
    v.val = val.data();
    v.stored = nnzb();
    return v;
  }
};

// nbr x nbc grid of br x bc blocks; the block pattern as random_csr's (sorted, no repeats), block
// values random with a few zeros.
BsrMat random_bsr(int64_t nbr, int64_t nbc, int64_t br, int64_t bc, double density, Pattern pat) {
  const CsrMat grid = random_csr(nbr, nbc, density, pat);
  BsrMat a;
  a.rows = nbr * br;
  a.cols = nbc * bc;
  a.br = br;
  a.bc = bc;
  a.ptr = grid.ptr;
  a.idx = grid.idx;
  a.val = random_values(a.nnzb() * a.bsz(), 0.1);
  return a;
}

cpu::CsrView view_of(const cpu::OwnedCsr& o) {
  cpu::CsrView v;
  v.rows = o.rows;
  v.cols = o.cols;
  v.ptr = o.ptr.data();
  v.idx = o.idx.data();
  v.val = o.val.data();
  v.stored = o.ptr.data()[o.rows];
  return v;
}

cpu::BsrView view_of(const cpu::OwnedBsr& o) {
  cpu::BsrView v;
  v.rows = o.rows;
  v.cols = o.cols;
  v.br = o.br;
  v.bc = o.bc;
  v.ptr = o.ptr.data();
  v.idx = o.idx.data();
  v.val = o.val.data();
  v.stored = o.ptr.data()[o.rows / o.br];
  return v;
}

// ---------------------------------------------------------------------------------------------
// Double-precision references (plain loops, straight from the definitions in sparse.h)

Ref ref_gemm(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t k, int64_t n,
             bool ta, bool tb) {
  Ref r(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) {
      const double av = ta ? a[p * m + i] : a[i * k + p];
      for (int64_t j = 0; j < n; ++j) r.add(i * n + j, av, tb ? b[j * k + p] : b[p * n + j]);
    }
  return r;
}

// C[M x n] = A * B[K x n]
Ref ref_csr_spmm(const CsrMat& a, const std::vector<float>& b, int64_t n) {
  Ref r(a.rows * n);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) r.add(i * n + j, a.val[p], b[a.idx[p] * n + j]);
  return r;
}

// C[K x n] = A^T * B[M x n]
Ref ref_csr_spmmt(const CsrMat& a, const std::vector<float>& b, int64_t n) {
  Ref r(a.cols * n);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) r.add(a.idx[p] * n + j, a.val[p], b[i * n + j]);
  return r;
}

// out[p] = X[i, :] . Y[idx[p], :] for the stored entries p of row i
Ref ref_csr_sddmm(const CsrMat& a, const std::vector<float>& x, const std::vector<float>& y, int64_t n) {
  Ref r(a.nnz());
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p)
      for (int64_t j = 0; j < n; ++j) r.add(p, x[i * n + j], y[a.idx[p] * n + j]);
  return r;
}

Ref ref_bsr_spmm(const BsrMat& a, const std::vector<float>& b, int64_t n) {
  Ref r(a.rows * n);
  for (int64_t I = 0; I < a.rows / a.br; ++I)
    for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p)
      for (int64_t rr = 0; rr < a.br; ++rr)
        for (int64_t cc = 0; cc < a.bc; ++cc)
          for (int64_t j = 0; j < n; ++j)
            r.add((I * a.br + rr) * n + j, a.val[p * a.bsz() + rr * a.bc + cc], b[(a.idx[p] * a.bc + cc) * n + j]);
  return r;
}

Ref ref_bsr_spmmt(const BsrMat& a, const std::vector<float>& b, int64_t n) {
  Ref r(a.cols * n);
  for (int64_t I = 0; I < a.rows / a.br; ++I)
    for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p)
      for (int64_t rr = 0; rr < a.br; ++rr)
        for (int64_t cc = 0; cc < a.bc; ++cc)
          for (int64_t j = 0; j < n; ++j)
            r.add((a.idx[p] * a.bc + cc) * n + j, a.val[p * a.bsz() + rr * a.bc + cc], b[(I * a.br + rr) * n + j]);
  return r;
}

Ref ref_bsr_sddmm(const BsrMat& a, const std::vector<float>& x, const std::vector<float>& y, int64_t n) {
  Ref r(a.nnzb() * a.bsz());
  for (int64_t I = 0; I < a.rows / a.br; ++I)
    for (int64_t p = a.ptr[I]; p < a.ptr[I + 1]; ++p)
      for (int64_t rr = 0; rr < a.br; ++rr)
        for (int64_t cc = 0; cc < a.bc; ++cc)
          for (int64_t j = 0; j < n; ++j)
            r.add(p * a.bsz() + rr * a.bc + cc, x[(I * a.br + rr) * n + j], y[(a.idx[p] * a.bc + cc) * n + j]);
  return r;
}

// ---------------------------------------------------------------------------------------------
// GEMM

void test_gemm() {
  struct Shape {
    int64_t m, k, n;
  };
  std::vector<Shape> shapes = {
      {0, 5, 7}, {5, 0, 7}, {5, 7, 0}, {0, 0, 0}, {1, 1, 1}, {1, 1, 17}, {17, 1, 1}, {1, 33, 1},
      // around the register tiles: scalar 4x8, NEON 8x12, AVX2 6x16, AVX-512 14x32
      {3, 4, 7}, {4, 5, 8}, {5, 3, 9}, {6, 8, 16}, {7, 9, 17}, {8, 10, 12}, {9, 11, 13}, {5, 2, 11},
      {13, 20, 31}, {14, 20, 32}, {15, 21, 33}, {16, 2, 24}, {28, 6, 64}, {29, 7, 65}, {33, 65, 47},
      {64, 64, 64},
      {37, 300, 70},   // k > kc of scalar, NEON and AVX2 (256): a second depth block accumulates
      {30, 400, 45},   // k > kc of AVX-512 (384)
      {200, 37, 129},  // m > mc: several A blocks
      {3, 2, 4100},    // n > nc of every table (<= 4096): a second column block
      {2, 3, 2100},    // n > nc of NEON (2048, not a multiple of its nr = 12)
  };
  if (!g_opt.quick) shapes.push_back({150, 530, 100});  // several depth blocks on every variant
  for (const Shape& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const std::vector<float> a = random_values(s.m * s.k), b = random_values(s.k * s.n);
      const Ref ref = ref_gemm(a, b, s.m, s.k, s.n, ta, tb);
      const std::string shape = fmt("m=%lld k=%lld n=%lld C=%s*%s", static_cast<long long>(s.m),
                                    static_cast<long long>(s.k), static_cast<long long>(s.n),
                                    ta ? "A^T" : "A", tb ? "B^T" : "B");
      run_all_isas("gemm", shape, s.m * s.n, s.n, ref, [&](Isa isa, float* c) {
        cpu::gemm(cpu::gemm_kernels(isa), a.data(), b.data(), c, s.m, s.k, s.n, ta, tb);
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CSR

std::string csr_shape(const CsrMat& a, Pattern pat) {
  return fmt("M=%lld K=%lld nnz=%lld %s", static_cast<long long>(a.rows), static_cast<long long>(a.cols),
             static_cast<long long>(a.nnz()), pattern_name(pat));
}

void test_csr_products(const CsrMat& a, Pattern pat, int64_t n) {
  const std::string shape = csr_shape(a, pat) + fmt(" n=%lld", static_cast<long long>(n));
  const cpu::CsrView v = a.view();
  {
    const std::vector<float> b = random_values(a.cols * n);
    run_all_isas("csr_spmm", shape, a.rows * n, n, ref_csr_spmm(a, b, n), [&](Isa isa, float* c) {
      cpu::csr_spmm(cpu::sparse_kernels(isa), v, b.data(), n, c);
    });
  }
  {
    const std::vector<float> b = random_values(a.rows * n);
    run_all_isas("csr_spmmt", shape, a.cols * n, n, ref_csr_spmmt(a, b, n), [&](Isa isa, float* c) {
      cpu::csr_spmmt(cpu::sparse_kernels(isa), v, b.data(), n, c);
    });
  }
  {
    const std::vector<float> x = random_values(a.rows * n), y = random_values(a.cols * n);
    run_all_isas("csr_sddmm", shape, a.nnz(), 0, ref_csr_sddmm(a, x, y, n), [&](Isa isa, float* out) {
      cpu::csr_sddmm(cpu::sparse_kernels(isa), v, x.data(), y.data(), n, out);
    });
  }
}

void test_csr_spmv(const CsrMat& a, Pattern pat) {
  const std::vector<float> x = random_values(a.cols);
  run_all_isas("csr_spmv", csr_shape(a, pat), a.rows, 0, ref_csr_spmm(a, x, 1), [&](Isa isa, float* y) {
    cpu::csr_spmv(cpu::sparse_kernels(isa), a.view(), x.data(), y);
  });
}

void test_csr() {
  struct Case {
    int64_t m, k;
    double density;
    Pattern pattern;
    std::vector<int64_t> ns;
  };
  std::vector<Case> cases = {
      {0, 0, 0.5, Pattern::kUniform, {0, 1, 4}},
      {0, 5, 0.5, Pattern::kUniform, {3}},
      {5, 0, 0.5, Pattern::kUniform, {3}},  // no columns: every row empty, C all zero
      {7, 9, 0.5, Pattern::kUniform, {0}},  // n = 0
      {1, 1, 1.0, Pattern::kUniform, {1, 8}},
      {6, 9, 0.0, Pattern::kUniform, {5, 16}},  // no stored entries at all
      {1, 40, 1.0, Pattern::kUniform, {1, 17}},
      {40, 1, 1.0, Pattern::kUniform, {1, 3}},
      // n below, at and above 1, 2, 4 and 8 vectors of each width (1, 4, 8, 16 lanes)
      {37, 37, 0.3, Pattern::kUniform, {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 48,
                                        63, 64, 65, 127, 128, 129, 200}},
      {9, 33, 1.0, Pattern::kUniform, {17, 48}},  // fully dense rows
      {50, 70, 0.2, Pattern::kEmptyRows, {7, 40}},
      {50, 70, 0.2, Pattern::kSkewed, {7, 40}},
      {50, 70, 0.2, Pattern::kUnsortedDup, {7, 40}},
      {64, 3000, 0.005, Pattern::kSkewed, {1, 16, 19}},  // two rows ~200x longer than the rest
      {300, 257, 0.1, Pattern::kUniform, {5, 17, 48, 100}},  // enough work for several threads
      {400, 300, 0.1, Pattern::kEmptyRows, {24}},
      // Long sorted rows over a wide K: the K-panelled spmm / sddmm / spmmt paths
      {64, 2000, 0.05, Pattern::kUniform, {17, 64}},
      {96, 2000, 0.1, Pattern::kEmptyRows, {40}},
      {100, 4000, 0.03, Pattern::kUniform, {48}},
      // Dense-ish rows with B far larger than L2: the strip-packed spmm, one or several row
      // blocks, full and narrower last strips
      {70, 2048, 0.3, Pattern::kUniform, {72, 100}},
      {400, 2048, 0.2, Pattern::kEmptyRows, {256}},
      // >= 16384 entries and n >= 32: spmmt transposes A once and runs spmm
      {300, 600, 0.1, Pattern::kUniform, {32, 48}},
      {300, 600, 0.1, Pattern::kUnsortedDup, {40}},
  };
  for (const Case& c : cases) {
    const CsrMat a = random_csr(c.m, c.k, c.density, c.pattern);
    test_csr_spmv(a, c.pattern);
    for (int64_t n : c.ns) test_csr_products(a, c.pattern, n);
  }
}

// ---------------------------------------------------------------------------------------------
// BSR

std::string bsr_shape(const BsrMat& a, Pattern pat, int64_t n) {
  return fmt("%lldx%lld blocks, %lldx%lld, nnzb=%lld %s n=%lld", static_cast<long long>(a.br),
             static_cast<long long>(a.bc), static_cast<long long>(a.rows), static_cast<long long>(a.cols),
             static_cast<long long>(a.nnzb()), pattern_name(pat), static_cast<long long>(n));
}

void test_bsr_products(const BsrMat& a, Pattern pat, int64_t n) {
  const std::string shape = bsr_shape(a, pat, n);
  const cpu::BsrView v = a.view();
  {
    const std::vector<float> b = random_values(a.cols * n);
    run_all_isas("bsr_spmm", shape, a.rows * n, n, ref_bsr_spmm(a, b, n), [&](Isa isa, float* c) {
      cpu::bsr_spmm(cpu::sparse_kernels(isa), v, b.data(), n, c);
    });
  }
  {
    const std::vector<float> b = random_values(a.rows * n);
    run_all_isas("bsr_spmmt", shape, a.cols * n, n, ref_bsr_spmmt(a, b, n), [&](Isa isa, float* c) {
      cpu::bsr_spmmt(cpu::sparse_kernels(isa), v, b.data(), n, c);
    });
  }
  {
    const std::vector<float> x = random_values(a.rows * n), y = random_values(a.cols * n);
    run_all_isas("bsr_sddmm", shape, a.nnzb() * a.bsz(), a.bsz(), ref_bsr_sddmm(a, x, y, n),
                 [&](Isa isa, float* out) { cpu::bsr_sddmm(cpu::sparse_kernels(isa), v, x.data(), y.data(), n, out); });
  }
}

void test_bsr_spmv(const BsrMat& a, Pattern pat) {
  const std::vector<float> x = random_values(a.cols);
  const std::string shape = fmt("%lldx%lld blocks, %lldx%lld, nnzb=%lld %s", static_cast<long long>(a.br),
                                static_cast<long long>(a.bc), static_cast<long long>(a.rows), static_cast<long long>(a.cols),
                                static_cast<long long>(a.nnzb()), pattern_name(pat));
  run_all_isas("bsr_spmv", shape, a.rows, 0, ref_bsr_spmm(a, x, 1), [&](Isa isa, float* y) {
    cpu::bsr_spmv(cpu::sparse_kernels(isa), a.view(), x.data(), y);
  });
}

const std::vector<std::pair<int64_t, int64_t>>& block_shapes() {
  static const std::vector<std::pair<int64_t, int64_t>> shapes = {
      {1, 4}, {4, 4}, {8, 8}, {16, 16}, {32, 32}, {2, 8}, {4, 1}, {3, 5}};
  return shapes;
}

void test_bsr() {
  for (const auto& [br, bc] : block_shapes()) {
    struct Case {
      int64_t nbr, nbc;
      double density;
      Pattern pattern;
      std::vector<int64_t> ns;
    };
    const int64_t big = g_opt.quick ? 128 : 256;
    const std::vector<Case> cases = {
        {0, 0, 0.5, Pattern::kUniform, {4}},
        {1, 1, 1.0, Pattern::kUniform, {1, 16}},
        {3, 5, 0.4, Pattern::kUniform, {1, 4, 7, 16, 17, 33, 50}},
        {6, 4, 0.5, Pattern::kEmptyRows, {20}},
        {5, 9, 0.3, Pattern::kSkewed, {12}},
        {2, 3, 0.0, Pattern::kUniform, {9}},  // no stored blocks: zero output
        // enough work for several threads (private-copy and column-split paths of spmmt)
        {std::max<int64_t>(2, big / br), std::max<int64_t>(2, big / bc), 0.1, Pattern::kUniform, {24, 40}},
        // packed-B SpMM (block rows >= 4, n >= 4 column tiles, blocks reading each block column
        // twice over): full and zero-padded last tiles for every ISA's tile width, empty block rows
        {12, 24, 0.6, Pattern::kUniform, {48, 96, 101, 192, 211}},
        {10, 3, 0.8, Pattern::kEmptyRows, {100}},
    };
    for (const Case& c : cases) {
      const BsrMat a = random_bsr(c.nbr, c.nbc, br, bc, c.density, c.pattern);
      test_bsr_spmv(a, c.pattern);
      for (int64_t n : c.ns) test_bsr_products(a, c.pattern, n);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Random shapes: different ones every seed, so repeated runs (CI) widen the coverage above.

void test_random_shapes() {
  const int rounds = g_opt.quick ? 12 : 60;
  const Pattern patterns[] = {Pattern::kUniform, Pattern::kEmptyRows, Pattern::kSkewed, Pattern::kUnsortedDup};
  const double densities[] = {0.01, 0.05, 0.2, 0.6};
  for (int round = 0; round < rounds; ++round) {
    {
      const int64_t m = 1 + below(80), k = 1 + below(300), n = 1 + below(150);
      const bool ta = chance(0.5), tb = chance(0.5);
      const std::vector<float> a = random_values(m * k), b = random_values(k * n);
      run_all_isas("gemm", fmt("m=%lld k=%lld n=%lld C=%s*%s", static_cast<long long>(m), static_cast<long long>(k),
                               static_cast<long long>(n), ta ? "A^T" : "A", tb ? "B^T" : "B"),
                   m * n, n, ref_gemm(a, b, m, k, n, ta, tb), [&](Isa isa, float* c) {
                     cpu::gemm(cpu::gemm_kernels(isa), a.data(), b.data(), c, m, k, n, ta, tb);
                   });
    }
    {
      const Pattern pat = patterns[below(4)];
      const CsrMat a = random_csr(below(120), below(400), densities[below(4)], pat);
      test_csr_spmv(a, pat);
      test_csr_products(a, pat, below(140));
    }
    {
      const Pattern pat = patterns[below(3)];
      int64_t br = 1 + below(12), bc = 1 + below(12);
      if (chance(0.5)) std::tie(br, bc) = block_shapes()[below(static_cast<int64_t>(block_shapes().size()))];
      const BsrMat a = random_bsr(below(std::max<int64_t>(2, 96 / br)), below(std::max<int64_t>(2, 96 / bc)), br, bc,
                                  densities[below(4)], pat);
      test_bsr_spmv(a, pat);
      test_bsr_products(a, pat, below(70));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conversions (exact: no arithmetic except the documented duplicate sums)

template <class T>
bool same(const T* a, const T* b, int64_t count) {
  return count == 0 || std::memcmp(a, b, static_cast<size_t>(count) * sizeof(T)) == 0;
}

// ptr[0] == 0, non-decreasing, ends at nnz; indices strictly increasing within a row and < cols.
bool sorted_structure(const int32_t* ptr, const int32_t* idx, int64_t rows, int64_t cols, std::string* why) {
  if (ptr[0] != 0) return *why = "ptr[0] != 0", false;
  for (int64_t i = 0; i < rows; ++i) {
    if (ptr[i + 1] < ptr[i]) return *why = fmt("ptr decreases at row %lld", static_cast<long long>(i)), false;
    for (int64_t p = ptr[i]; p < ptr[i + 1]; ++p) {
      if (idx[p] < 0 || idx[p] >= cols)
        return *why = fmt("index %d out of range at %lld", idx[p], static_cast<long long>(p)), false;
      if (p > ptr[i] && idx[p] <= idx[p - 1])
        return *why = fmt("row %lld not strictly increasing at %lld", static_cast<long long>(i), static_cast<long long>(p)), false;
    }
  }
  return true;
}

void check(const std::string& label, bool ok, const std::string& why = "") {
  if (!ok && !why.empty()) std::printf("       %s: %s\n", label.c_str(), why.c_str());
  record(label, ok);
}

std::vector<float> to_dense(const cpu::CsrView& v) {
  std::vector<float> d(static_cast<size_t>(v.rows * v.cols) + 1);
  cpu::csr_to_dense(v, d.data());
  d.pop_back();
  return d;
}

std::vector<float> to_dense(const cpu::BsrView& v) {
  std::vector<float> d(static_cast<size_t>(v.rows * v.cols) + 1);
  cpu::bsr_to_dense(v, d.data());
  d.pop_back();
  return d;
}

std::vector<float> transposed(const std::vector<float>& d, int64_t rows, int64_t cols) {
  std::vector<float> t(d.size());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t[j * rows + i] = d[i * cols + j];
  return t;
}

// A dense matrix with exact zeros (zero_fraction of entries) and row 0 entirely zero.
std::vector<float> sparse_dense(int64_t rows, int64_t cols, double zero_fraction) {
  std::vector<float> d = random_values(rows * cols, zero_fraction);
  if (rows > 1)
    for (int64_t j = 0; j < cols; ++j) d[j] = 0.0f;
  return d;
}

// Equal bits, or both NaN (a NaN's payload may change in csr_to_dense's 0 + NaN).
bool same_values(const float* a, const float* b, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
  return true;
}

// dense -> CSR with the default rule (keep v != 0: NaN and Inf kept, +0 and -0 dropped), which
// runs the active ISA's count/compress kernels, so once per ISA.
void test_dense_csr_default_rule(Isa isa) {
  shears::set_active_isa(isa);
  const std::string tag = std::string(" [") + shears::isa_name(isa) + "]";
  struct Case {
    int64_t rows, cols;
    double zero_fraction;
    bool specials;
  };
  std::vector<Case> cases;
  for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {7, 13}, {64, 33}, {300, 301}})
    for (double zf : {0.0, 0.7, 1.0}) cases.push_back({rows, cols, zf, false});
  // Every row length 0..70 (below, at and above 1..4 vectors of 4, 8 and 16 lanes), with NaN,
  // +-Inf, subnormals and -0 mixed in.
  cases.push_back({71, 70, 0.5, true});
  cases.push_back({40, 257, 0.3, true});
  for (const Case& c : cases) {
    const std::string label = fmt("dense->csr->dense %lldx%lld zeros=%.0f%%%s", static_cast<long long>(c.rows),
                                  static_cast<long long>(c.cols), c.zero_fraction * 100, c.specials ? " +NaN/Inf/-0/subnormal" : "") + tag;
    std::vector<float> d = sparse_dense(c.rows, c.cols, c.zero_fraction);
    if (c.specials) {
      const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(),
                                -1e-40f, -0.0f, -0.0f, 0.0f};
      for (float& x : d)
        if (chance(0.15)) x = specials[below(8)];
    }
    const cpu::OwnedCsr csr = cpu::csr_from_dense(d.data(), c.rows, c.cols, cpu::KeepRule{});
    const cpu::CsrView v = view_of(csr);
    std::string why;
    bool ok = sorted_structure(v.ptr, v.idx, c.rows, c.cols, &why);
    std::vector<float> expected(d.size());
    int64_t kept = 0;
    for (size_t i = 0; i < d.size(); ++i) {
      const bool keep = d[i] != 0.0f;  // true for NaN
      expected[i] = keep ? d[i] : 0.0f;
      kept += keep;
    }
    if (ok && v.nnz() != kept)
      ok = false, why = fmt("nnz %lld, expected %lld", static_cast<long long>(v.nnz()), static_cast<long long>(kept));
    for (int64_t i = 0; ok && i < c.rows; ++i)
      for (int64_t p = v.ptr[i]; ok && p < v.ptr[i + 1]; ++p)
        if (!(v.val[p] != 0.0f) || std::memcmp(&v.val[p], &d[i * c.cols + v.idx[p]], sizeof(float)) != 0)
          ok = false, why = fmt("wrong value at entry %lld (row %lld, col %d)", static_cast<long long>(p), static_cast<long long>(i), v.idx[p]);
    if (ok && !same_values(to_dense(v).data(), expected.data(), c.rows * c.cols)) ok = false, why = "csr_to_dense differs from the input";
    check(label, ok, why);
  }
}

void test_dense_csr() {
  const Isa original = shears::active_isa();
  for (Isa isa : shears::available_isas()) test_dense_csr_default_rule(isa);
  shears::set_active_isa(original);
  // Keep rules: a mask, a threshold, both.
  const int64_t rows = 45, cols = 71;
  const std::vector<float> d = random_values(rows * cols, 0.2);
  std::vector<uint8_t> mask(static_cast<size_t>(rows * cols));
  for (uint8_t& m : mask) m = chance(0.5) ? 1 : 0;
  for (int mode = 0; mode < 3; ++mode) {
    cpu::KeepRule keep;
    if (mode != 1) keep.mask = mask.data();
    if (mode != 0) keep.has_threshold = true, keep.threshold = 0.5f;
    std::vector<float> expected(d.size());
    for (size_t i = 0; i < d.size(); ++i) {
      const bool kept = (keep.mask ? mask[i] != 0 : true) && (keep.has_threshold ? std::fabs(d[i]) > 0.5f : true);
      expected[i] = kept ? d[i] : 0.0f;
    }
    const char* name = mode == 0 ? "mask" : mode == 1 ? "threshold" : "mask+threshold";
    const cpu::OwnedCsr csr = cpu::csr_from_dense(d.data(), rows, cols, keep);
    std::string why;
    bool ok = sorted_structure(csr.ptr.data(), csr.idx.data(), rows, cols, &why);
    if (ok && !same(to_dense(view_of(csr)).data(), expected.data(), rows * cols)) ok = false, why = "kept entries differ";
    check(fmt("csr_from_dense keep=%s %lldx%lld", name, static_cast<long long>(rows), static_cast<long long>(cols)), ok, why);
  }
}

void test_transpose() {
  struct Case {
    int64_t rows, cols;
    double density;
    Pattern pattern;
  };
  const std::vector<Case> cases = {
      {0, 0, 0.5, Pattern::kUniform}, {0, 7, 0.5, Pattern::kUniform}, {7, 0, 0.5, Pattern::kUniform},
      {1, 1, 1.0, Pattern::kUniform}, {13, 29, 0.3, Pattern::kUniform}, {40, 33, 0.3, Pattern::kEmptyRows},
      {300, 301, 0.1, Pattern::kUniform},   // > 4096 entries: several histogram chunks
      {1000, 50, 0.2, Pattern::kSkewed}};
  for (const Case& c : cases) {
    const CsrMat a = random_csr(c.rows, c.cols, c.density, c.pattern);
    const std::string shape = csr_shape(a, c.pattern);
    const cpu::OwnedCsr t = cpu::csr_transpose(a.view());
    const cpu::OwnedCsr tt = cpu::csr_transpose(view_of(t));
    std::string why;
    bool ok = t.rows == a.cols && t.cols == a.rows && sorted_structure(t.ptr.data(), t.idx.data(), t.rows, t.cols, &why);
    if (ok && !same(to_dense(view_of(t)).data(), transposed(to_dense(a.view()), a.rows, a.cols).data(), a.rows * a.cols))
      ok = false, why = "dense(transpose(A)) != transpose(dense(A))";
    check("csr_transpose " + shape, ok, why);
    ok = tt.rows == a.rows && tt.cols == a.cols && same(tt.ptr.data(), a.ptr.data(), a.rows + 1) &&
         same(tt.idx.data(), a.idx.data(), a.nnz()) && same(tt.val.data(), a.val.data(), a.nnz());
    check("csr_transpose twice == identity " + shape, ok, "arrays differ");
  }
  for (const auto& [br, bc] : block_shapes()) {
    for (const auto& [nbr, nbc] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {1, 1}, {3, 5}, {6, 4}, {40, 30}}) {
      const BsrMat a = random_bsr(nbr, nbc, br, bc, 0.4, Pattern::kUniform);
      const std::string shape = bsr_shape(a, Pattern::kUniform, 0);
      const cpu::OwnedBsr t = cpu::bsr_transpose(a.view());
      const cpu::OwnedBsr tt = cpu::bsr_transpose(view_of(t));
      std::string why;
      bool ok = t.rows == a.cols && t.cols == a.rows && t.br == bc && t.bc == br &&
                sorted_structure(t.ptr.data(), t.idx.data(), nbc, nbr, &why);
      if (ok && !same(to_dense(view_of(t)).data(), transposed(to_dense(a.view()), a.rows, a.cols).data(), a.rows * a.cols))
        ok = false, why = "dense(transpose(A)) != transpose(dense(A))";
      check("bsr_transpose " + shape, ok, why);
      ok = tt.rows == a.rows && tt.cols == a.cols && tt.br == br && tt.bc == bc &&
           same(tt.ptr.data(), a.ptr.data(), nbr + 1) && same(tt.idx.data(), a.idx.data(), a.nnzb()) &&
           same(tt.val.data(), a.val.data(), a.nnzb() * a.bsz());
      check("bsr_transpose twice == identity " + shape, ok, "arrays differ");
    }
  }
}

bool throws_range_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const shears::Error& e) {
    return e.kind() == shears::ErrorKind::kRange;
  }
  return false;
}

void test_coo() {
  struct Case {
    int64_t rows, cols, count;
  };
  const std::vector<Case> cases = {{0, 0, 0}, {3, 4, 0}, {1, 1, 5}, {10, 10, 300}, {50, 40, 1000}, {200, 300, 20000}};
  for (const Case& c : cases) {
    const std::string shape = fmt("%lldx%lld, %lld entries", static_cast<long long>(c.rows), static_cast<long long>(c.cols),
                                  static_cast<long long>(c.count));
    // Coordinates drawn with replacement, so most cases have many duplicates.
    std::vector<int32_t> r(static_cast<size_t>(c.count)), col(static_cast<size_t>(c.count));
    for (int64_t e = 0; e < c.count; ++e) {
      r[e] = static_cast<int32_t>(below(c.rows));
      col[e] = static_cast<int32_t>(below(c.cols));
    }
    const std::vector<float> v = random_values(c.count);
    // Expected: duplicates summed in entry order (csr_from_coo's stable order), so bitwise equal.
    std::vector<float> expected(static_cast<size_t>(c.rows * c.cols), 0.0f);
    std::vector<char> present(expected.size(), 0);
    for (int64_t e = 0; e < c.count; ++e) {
      const size_t at = static_cast<size_t>(r[e] * c.cols + col[e]);
      expected[at] = present[at] ? expected[at] + v[e] : v[e];
      present[at] = 1;
    }
    int64_t distinct = 0;
    for (char p : present) distinct += p;
    {
      const cpu::OwnedCsr csr = cpu::csr_from_coo(c.rows, c.cols, r.data(), col.data(), v.data(), c.count, true);
      std::string why;
      bool ok = sorted_structure(csr.ptr.data(), csr.idx.data(), c.rows, c.cols, &why);
      if (ok && csr.ptr.data()[c.rows] != distinct) ok = false, why = fmt("nnz %d, expected %lld distinct", csr.ptr.data()[c.rows], static_cast<long long>(distinct));
      if (ok && !same(to_dense(view_of(csr)).data(), expected.data(), c.rows * c.cols)) ok = false, why = "summed values differ";
      check("csr_from_coo sum duplicates " + shape, ok, why);
    }
    const bool has_dups = distinct < c.count;
    if (has_dups) {
      check("csr_from_coo duplicates rejected " + shape, throws_range_error([&] {
              cpu::csr_from_coo(c.rows, c.cols, r.data(), col.data(), v.data(), c.count, false);
            }));
    }
    if (c.count > 0) {
      std::vector<int32_t> bad = r;
      bad[c.count / 2] = static_cast<int32_t>(c.rows);
      check("csr_from_coo row index out of range " + shape, throws_range_error([&] {
              cpu::csr_from_coo(c.rows, c.cols, bad.data(), col.data(), v.data(), c.count, true);
            }));
      bad = col;
      bad[c.count - 1] = -1;
      check("csr_from_coo negative column index " + shape, throws_range_error([&] {
              cpu::csr_from_coo(c.rows, c.cols, r.data(), bad.data(), v.data(), c.count, true);
            }));
    }
  }
  // Without duplicates, rejecting and summing give the same matrix.
  const CsrMat a = random_csr(60, 50, 0.2, Pattern::kUniform);
  std::vector<int32_t> r, col;
  std::vector<float> v;
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t p = a.ptr[i]; p < a.ptr[i + 1]; ++p) r.push_back(static_cast<int32_t>(i)), col.push_back(a.idx[p]), v.push_back(a.val[p]);
  for (size_t e = r.size(); e > 1; --e) {  // shuffle the entries
    const size_t s = static_cast<size_t>(below(static_cast<int64_t>(e)));
    std::swap(r[e - 1], r[s]), std::swap(col[e - 1], col[s]), std::swap(v[e - 1], v[s]);
  }
  const int64_t count = static_cast<int64_t>(r.size());
  const cpu::OwnedCsr csr = cpu::csr_from_coo(a.rows, a.cols, r.data(), col.data(), v.data(), count, false);
  check("csr_from_coo shuffled, no duplicates == original " + csr_shape(a, Pattern::kUniform),
        same(csr.ptr.data(), a.ptr.data(), a.rows + 1) && same(csr.idx.data(), a.idx.data(), a.nnz()) &&
            same(csr.val.data(), a.val.data(), a.nnz()),
        "arrays differ");
}

void test_bsr_conversions() {
  for (const auto& [br, bc] : block_shapes()) {
    for (const auto& [nbr, nbc] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {1, 1}, {3, 5}, {7, 2}, {256 / br, 128 / bc}}) {
      const int64_t rows = nbr * br, cols = nbc * bc;
      // Blocks kept with probability 0.4, zeros inside kept blocks, block row 0 empty.
      std::vector<float> d(static_cast<size_t>(rows * cols), 0.0f);
      int64_t kept_blocks = 0;
      for (int64_t I = 0; I < nbr; ++I)
        for (int64_t J = 0; J < nbc; ++J) {
          if ((nbr > 1 && I == 0) || !chance(0.4)) continue;
          bool any = false;
          for (int64_t r = 0; r < br; ++r)
            for (int64_t c = 0; c < bc; ++c) {
              const float x = chance(0.3) ? 0.0f : uniform();
              d[(I * br + r) * cols + J * bc + c] = x;
              any = any || x != 0.0f;
            }
          kept_blocks += any;
        }
      const std::string shape = fmt("%lldx%lld blocks, %lldx%lld", static_cast<long long>(br), static_cast<long long>(bc),
                                    static_cast<long long>(rows), static_cast<long long>(cols));
      const cpu::OwnedBsr b = cpu::bsr_from_dense(d.data(), rows, cols, br, bc, cpu::KeepRule{});
      std::string why;
      bool ok = sorted_structure(b.ptr.data(), b.idx.data(), nbr, nbc, &why);
      if (ok && b.ptr.data()[nbr] != kept_blocks) ok = false, why = fmt("%d blocks, expected %lld", b.ptr.data()[nbr], static_cast<long long>(kept_blocks));
      if (ok && !same(to_dense(view_of(b)).data(), d.data(), rows * cols)) ok = false, why = "bsr_to_dense differs from the input";
      check("dense->bsr->dense " + shape, ok, why);

      const cpu::OwnedCsr csr = cpu::csr_from_dense(d.data(), rows, cols, cpu::KeepRule{});
      const cpu::OwnedBsr b2 = cpu::bsr_from_csr(view_of(csr), br, bc);
      ok = b2.rows == rows && b2.cols == cols && b2.br == br && b2.bc == bc && same(b2.ptr.data(), b.ptr.data(), nbr + 1) &&
           same(b2.idx.data(), b.idx.data(), b.ptr.data()[nbr]) && same(b2.val.data(), b.val.data(), b.ptr.data()[nbr] * br * bc);
      check("dense->csr->bsr == dense->bsr " + shape, ok, "arrays differ");
    }
    // An explicitly stored zero keeps its block (bsr_from_csr), a masked-in zero too (bsr_from_dense).
    {
      CsrMat a;
      a.rows = 2 * br;
      a.cols = 3 * bc;
      a.ptr.assign(static_cast<size_t>(a.rows + 1), 0);
      for (int64_t i = br; i < a.rows; ++i) a.ptr[i + 1] = 1;  // row br holds the only entry
      a.idx = {static_cast<int32_t>(2 * bc - 1)};
      a.val = {0.0f};
      const cpu::OwnedBsr b = cpu::bsr_from_csr(a.view(), br, bc);
      const std::vector<float> zeros(static_cast<size_t>(br * bc), 0.0f);
      const bool ok = b.ptr.data()[0] == 0 && b.ptr.data()[1] == 0 && b.ptr.data()[2] == 1 && b.idx.data()[0] == 1 &&
                      same(b.val.data(), zeros.data(), br * bc);
      check(fmt("bsr_from_csr keeps a block holding only an explicit zero %lldx%lld", static_cast<long long>(br),
                static_cast<long long>(bc)),
            ok, "block missing or wrong");
      std::vector<float> d(static_cast<size_t>(a.rows * a.cols), 0.0f);
      std::vector<uint8_t> mask(d.size(), 0);
      mask[static_cast<size_t>(br * a.cols + 2 * bc - 1)] = 1;
      cpu::KeepRule keep;
      keep.mask = mask.data();
      const cpu::OwnedBsr bm = cpu::bsr_from_dense(d.data(), a.rows, a.cols, br, bc, keep);
      check(fmt("bsr_from_dense keeps a masked-in zero %lldx%lld", static_cast<long long>(br), static_cast<long long>(bc)),
            bm.ptr.data()[2] == 1 && bm.idx.data()[0] == 1 && same(bm.val.data(), zeros.data(), br * bc), "block missing or wrong");
    }
  }
}

void test_conversions() {
  test_dense_csr();
  test_transpose();
  test_coo();
  test_bsr_conversions();
}

// ---------------------------------------------------------------------------------------------
// Validation: bad structure is a RangeError and the output is left untouched (still NaN).

void test_validation() {
  for (Isa isa : shears::available_isas()) {
    const cpu::SparseKernels& k = cpu::sparse_kernels(isa);
    const std::string tag = std::string(" [") + shears::isa_name(isa) + "]";
    auto untouched = [](const Out& o, int64_t count) {
      for (int64_t i = 0; i < count + kGuard; ++i)
        if (!std::isnan(o.buf[i])) return false;
      return true;
    };
    // Rows of 0, 3, 17 and 40 entries, so the bad index lands in every loop of the spmv kernels
    // (two vectors at a time, one vector, the partial tail).
    CsrMat a;
    a.rows = 4;
    a.cols = 64;
    for (int64_t len : {0, 3, 17, 40}) {
      for (int64_t j = 0; j < len; ++j) a.idx.push_back(static_cast<int32_t>(j));
      a.ptr.push_back(static_cast<int32_t>(a.idx.size()));
    }
    a.val = random_values(a.nnz());
    const std::vector<float> x = random_values(a.cols), b = random_values(a.cols * 5), bt = random_values(a.rows * 5);
    for (int64_t at : {1, 3, 4, 19, 28, 37, 59}) {
      for (int32_t badv : {static_cast<int32_t>(a.cols), -1, std::numeric_limits<int32_t>::min()}) {
        CsrMat bad = a;
        bad.idx[at] = badv;
        const std::string what = fmt(" colIdx[%lld]=%d", static_cast<long long>(at), badv);
        {
          Out y(a.rows);
          const bool ok = throws_range_error([&] { cpu::csr_spmv(k, bad.view(), x.data(), y.data()); }) && untouched(y, a.rows);
          check("csr_spmv rejects" + what + tag, ok, "no RangeError, or the output was written");
        }
        if (badv == -1) {
          Out c(a.rows * 5);
          check("csr_spmm rejects" + what + tag,
                throws_range_error([&] { cpu::csr_spmm(k, bad.view(), b.data(), 5, c.data()); }) && untouched(c, a.rows * 5),
                "no RangeError, or the output was written");
          Out ct(a.cols * 5);
          check("csr_spmmt rejects" + what + tag,
                throws_range_error([&] { cpu::csr_spmmt(k, bad.view(), bt.data(), 5, ct.data()); }) && untouched(ct, a.cols * 5),
                "no RangeError, or the output was written");
        }
      }
    }
    {
      CsrMat bad = a;
      bad.ptr[1] = bad.ptr[2] + 2;  // 0, 5, 3, ...: decreases at row 2
      Out c(a.rows * 5);
      check("csr_spmm rejects a decreasing rowPtr" + tag,
            throws_range_error([&] { cpu::csr_spmm(k, bad.view(), b.data(), 5, c.data()); }) && untouched(c, a.rows * 5));
      CsrMat short_ = a;
      short_.idx.pop_back();
      short_.val.pop_back();  // ptr[rows] now exceeds the stored entries
      Out y(a.rows);
      check("csr_spmv rejects rowPtr[rows] != stored entries" + tag,
            throws_range_error([&] { cpu::csr_spmv(k, short_.view(), x.data(), y.data()); }) && untouched(y, a.rows));
    }
    {
      BsrMat bb = random_bsr(3, 4, 4, 4, 0.6, Pattern::kUniform);
      if (bb.nnzb() == 0) bb = random_bsr(3, 4, 4, 4, 1.0, Pattern::kUniform);
      bb.idx[bb.nnzb() / 2] = 4;
      const std::vector<float> bd = random_values(bb.cols * 3);
      Out c(bb.rows * 3);
      check("bsr_spmm rejects a block column out of range" + tag,
            throws_range_error([&] { cpu::bsr_spmm(k, bb.view(), bd.data(), 3, c.data()); }) && untouched(c, bb.rows * 3));
      Out y(bb.rows);
      check("bsr_spmv rejects a block column out of range" + tag,
            throws_range_error([&] { cpu::bsr_spmv(k, bb.view(), bd.data(), y.data()); }) && untouched(y, bb.rows));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Thread pool, and results across thread counts

void test_thread_pool() {
  shears::ThreadPool& pool = shears::ThreadPool::instance();
  {
    // Resizing and then running at once, many times: workers started by a resize must wait for
    // the next region (a worker that woke for the previous one made a later run() wait forever;
    // the watchdog in main() reports such a hang).
    bool ok = true;
    for (int i = 0; i < (g_opt.quick ? 300 : 3000) && ok; ++i) {
      pool.set_num_threads(1 + i % 4);
      // A short, varying pause sweeps the moment run() starts across the new workers' start-up.
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(i % 37);
      while (std::chrono::steady_clock::now() < until) {
      }
      std::atomic<int> count{0};
      pool.run(2 + i % 5, [&](int64_t, int) { count.fetch_add(1); });
      ok = count.load() == 2 + i % 5;
    }
    check("thread_pool resize then run, repeatedly", ok);
  }
  for (int threads : {1, 2, 3, 5}) {
    pool.set_num_threads(threads);
    const std::string tag = fmt(" [threads=%d]", threads);
    {
      const int64_t ntasks = 1000;
      std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[ntasks]);
      for (int64_t t = 0; t < ntasks; ++t) hits[t].store(0);
      std::atomic<int> bad_worker{0};
      const int width = pool.run(ntasks, [&](int64_t task, int worker) {
        hits[task].fetch_add(1);
        if (worker < 0 || worker >= threads) bad_worker.fetch_add(1);
      });
      bool ok = bad_worker.load() == 0 && (width == 1 || width == threads);
      for (int64_t t = 0; t < ntasks; ++t) ok = ok && hits[t].load() == 1;
      check("thread_pool run: every task once, worker ids < width" + tag, ok);
    }
    {
      bool caught = false;
      try {
        pool.run(200, [&](int64_t task, int) {
          if (task == 37) throw std::runtime_error("boom");
        });
      } catch (const std::runtime_error& e) {
        caught = std::strcmp(e.what(), "boom") == 0;
      }
      std::atomic<int64_t> sum{0};
      pool.run(100, [&](int64_t task, int) { sum.fetch_add(task); });
      check("thread_pool run: exception rethrown, pool usable after" + tag, caught && sum.load() == 4950);
    }
    {
      std::atomic<int> inner{0}, wide{0};
      pool.run(8, [&](int64_t, int) {
        const int w = pool.run(5, [&](int64_t, int) { inner.fetch_add(1); });
        if (w != 1) wide.fetch_add(1);
      });
      check("thread_pool nested run executes inline" + tag, inner.load() == 40 && wide.load() == 0);
    }
    {
      bool ok = true;
      for (int64_t n : {0, 1, 7, 1000, 100003}) {
        for (int64_t grain : {1, 64, 1 << 20}) {
          std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
          for (auto& h : hits) h.store(0);
          shears::parallel_for(n, grain, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
          });
          for (auto& h : hits) ok = ok && h.load() == 1;
        }
      }
      check("parallel_for covers [0, n) once" + tag, ok);
    }
    {
      const CsrMat a = random_csr(500, 400, 0.02, Pattern::kSkewed);
      bool ok = true;
      for (double min_cost : {1.0, 100.0, 1e9}) {
        const std::vector<int64_t> bounds = shears::row_partition(a.rows, a.ptr.data(), 1.0, 1.0, min_cost);
        ok = ok && bounds.size() >= 2 && bounds.front() == 0 && bounds.back() == a.rows;
        for (size_t c = 1; ok && c < bounds.size(); ++c) ok = bounds[c - 1] <= bounds[c];
        std::vector<int> rows_hit(static_cast<size_t>(a.rows), 0);
        std::mutex mu;
        shears::parallel_for_rows(a.rows, a.ptr.data(), 1.0, 1.0, min_cost, [&](int64_t r0, int64_t r1) {
          std::lock_guard<std::mutex> lock(mu);
          for (int64_t i = r0; i < r1; ++i) ++rows_hit[i];
        });
        for (int h : rows_hit) ok = ok && h == 1;
      }
      check("row_partition / parallel_for_rows cover every row once" + tag, ok);
    }
  }
}

// Every operation with 1 thread (checked against the reference: the single-thread paths), then
// with 2, 3 and all cores: the same bits, since each output element is computed by one thread in
// a fixed order. The exception is the transposed products (csr/bsr spmmt), whose drivers pick a
// path by thread count (private copies of C summed, column split, K panels): their summation
// order may follow the thread count, so with more threads they are checked against the reference
// and for reproducibility: the same bits run after run at one thread count (DESIGN.md).
void test_thread_determinism() {
  shears::ThreadPool& pool = shears::ThreadPool::instance();
  std::vector<int> counts = {1, 2, 3};
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  if (hw > 3) counts.push_back(std::min(hw, 32));
  const int repeats = g_opt.quick ? 2 : 3;

  struct Mat {
    CsrMat m;
    Pattern pattern;
  };
  // Skewed rows; and long sorted rows over a wide K (the K-panelled paths).
  const std::vector<Mat> csrs = {{random_csr(g_opt.quick ? 200 : 400, 300, 0.08, Pattern::kSkewed), Pattern::kSkewed},
                                 {random_csr(100, 4000, 0.03, Pattern::kUniform), Pattern::kUniform}};
  const BsrMat b44 = random_bsr(g_opt.quick ? 32 : 64, 48, 4, 4, 0.15, Pattern::kUniform);
  const BsrMat b14 = random_bsr(g_opt.quick ? 128 : 256, 64, 1, 4, 0.1, Pattern::kEmptyRows);
  const int64_t gm = 150, gk = 120, gn = 90;

  struct Op {
    std::string name;
    int64_t count;
    std::shared_ptr<Ref> ref;   // null for the exact conversions
    bool order_follows_threads;  // see above
    std::function<void(Isa, float*)> run;
  };
  std::vector<Op> ops;
  std::vector<std::shared_ptr<std::vector<float>>> inputs;  // the closures point into these
  auto input = [&](int64_t count) -> const std::vector<float>& {
    inputs.push_back(std::make_shared<std::vector<float>>(random_values(count)));
    return *inputs.back();
  };
  {
    const std::vector<float>& a = input(gm * gk);
    const std::vector<float>& b = input(gk * gn);
    for (int t = 0; t < 4; t += 3) {
      const bool ta = t & 1, tb = t & 2;
      ops.push_back({fmt("gemm %lldx%lldx%lld%s", static_cast<long long>(gm), static_cast<long long>(gk),
                         static_cast<long long>(gn), ta ? " A^T*B^T" : ""),
                     gm * gn, std::make_shared<Ref>(ref_gemm(a, b, gm, gk, gn, ta, tb)), false,
                     [&a, &b, ta, tb, gm, gk, gn](Isa isa, float* c) {
                       cpu::gemm(cpu::gemm_kernels(isa), a.data(), b.data(), c, gm, gk, gn, ta, tb);
                     }});
    }
  }
  for (const Mat& mat : csrs) {
    const CsrMat& a = mat.m;
    const std::string sh = " " + csr_shape(a, mat.pattern);
    const std::vector<float>& x = input(a.cols);
    ops.push_back({"csr_spmv" + sh, a.rows, std::make_shared<Ref>(ref_csr_spmm(a, x, 1)), false,
                   [&a, &x](Isa isa, float* y) { cpu::csr_spmv(cpu::sparse_kernels(isa), a.view(), x.data(), y); }});
    for (int64_t n : {8, 24, 64}) {
      const std::string shn = sh + fmt(" n=%lld", static_cast<long long>(n));
      const std::vector<float>& b = input(a.cols * n);
      ops.push_back({"csr_spmm" + shn, a.rows * n, std::make_shared<Ref>(ref_csr_spmm(a, b, n)), false,
                     [&a, &b, n](Isa isa, float* c) { cpu::csr_spmm(cpu::sparse_kernels(isa), a.view(), b.data(), n, c); }});
      const std::vector<float>& bt = input(a.rows * n);
      ops.push_back({"csr_spmmt" + shn, a.cols * n, std::make_shared<Ref>(ref_csr_spmmt(a, bt, n)), true,
                     [&a, &bt, n](Isa isa, float* c) { cpu::csr_spmmt(cpu::sparse_kernels(isa), a.view(), bt.data(), n, c); }});
      const std::vector<float>& x2 = input(a.rows * n);
      const std::vector<float>& y2 = input(a.cols * n);
      ops.push_back({"csr_sddmm" + shn, a.nnz(), std::make_shared<Ref>(ref_csr_sddmm(a, x2, y2, n)), false,
                     [&a, &x2, &y2, n](Isa isa, float* out) {
                       cpu::csr_sddmm(cpu::sparse_kernels(isa), a.view(), x2.data(), y2.data(), n, out);
                     }});
    }
  }
  for (const BsrMat* m : {&b44, &b14}) {
    const std::vector<float>& x1 = input(m->cols);
    ops.push_back({"bsr_spmv " + bsr_shape(*m, Pattern::kUniform, 1), m->rows, std::make_shared<Ref>(ref_bsr_spmm(*m, x1, 1)),
                   false, [m, &x1](Isa isa, float* y) { cpu::bsr_spmv(cpu::sparse_kernels(isa), m->view(), x1.data(), y); }});
    for (int64_t n : {8, 24, 64}) {
      const std::string sh = " " + bsr_shape(*m, Pattern::kUniform, n);
      const std::vector<float>& b = input(m->cols * n);
      ops.push_back({"bsr_spmm" + sh, m->rows * n, std::make_shared<Ref>(ref_bsr_spmm(*m, b, n)), false,
                     [m, &b, n](Isa isa, float* c) { cpu::bsr_spmm(cpu::sparse_kernels(isa), m->view(), b.data(), n, c); }});
      const std::vector<float>& bt = input(m->rows * n);
      ops.push_back({"bsr_spmmt" + sh, m->cols * n, std::make_shared<Ref>(ref_bsr_spmmt(*m, bt, n)), true,
                     [m, &bt, n](Isa isa, float* c) { cpu::bsr_spmmt(cpu::sparse_kernels(isa), m->view(), bt.data(), n, c); }});
      const std::vector<float>& x = input(m->rows * n);
      const std::vector<float>& y = input(m->cols * n);
      ops.push_back({"bsr_sddmm" + sh, m->nnzb() * m->bsz(), std::make_shared<Ref>(ref_bsr_sddmm(*m, x, y, n)), false,
                     [m, &x, &y, n](Isa isa, float* out) {
                       cpu::bsr_sddmm(cpu::sparse_kernels(isa), m->view(), x.data(), y.data(), n, out);
                     }});
    }
  }
  // Conversions (exact; several chunks above 4096 entries): their outputs' bits (ptr, idx, val)
  // as one float array. csr_from_dense uses the active ISA's compaction kernel.
  const CsrMat wide = random_csr(600, 500, 0.05, Pattern::kUniform);
  const std::vector<float> wide_dense = to_dense(wide.view());
  auto csr_bits = [](const cpu::OwnedCsr& o, float* out) {
    const int64_t nnz = o.ptr.data()[o.rows];
    std::memcpy(out, o.ptr.data(), static_cast<size_t>(o.rows + 1) * 4);
    std::memcpy(out + o.rows + 1, o.idx.data(), static_cast<size_t>(nnz) * 4);
    std::memcpy(out + o.rows + 1 + nnz, o.val.data(), static_cast<size_t>(nnz) * 4);
  };
  ops.push_back({"csr_transpose " + csr_shape(wide, Pattern::kUniform), wide.cols + 1 + 2 * wide.nnz(), nullptr, false,
                 [&](Isa, float* out) { csr_bits(cpu::csr_transpose(wide.view()), out); }});
  ops.push_back({"csr_from_dense " + csr_shape(wide, Pattern::kUniform), wide.rows + 1 + 2 * wide.nnz(), nullptr, false,
                 [&](Isa isa, float* out) {
                   shears::set_active_isa(isa);
                   csr_bits(cpu::csr_from_dense(wide_dense.data(), wide.rows, wide.cols, cpu::KeepRule{}), out);
                 }});

  auto run = [&](const Op& op, Isa isa, int threads) {
    pool.set_num_threads(threads);
    Out o(op.count);
    op.run(isa, o.data());
    return o;  // with its guard elements
  };
  auto first_diff = [](const Out& x, const Out& y, int64_t count) -> int64_t {
    for (int64_t i = 0; i < count; ++i)
      if (std::memcmp(&x.buf[i], &y.buf[i], sizeof(float)) != 0) return i;
    return -1;
  };
  const Isa original_isa = shears::active_isa();
  for (Isa isa : shears::available_isas()) {
    for (const Op& op : ops) {
      if (!op.ref && op.name.rfind("csr_transpose", 0) == 0 && isa != Isa::kScalar) continue;  // no ISA variant
      const std::string label = op.name + " [" + shears::isa_name(isa) + "]";
      Out one = run(op, isa, 1);
      if (op.ref) check(label + ": 1 thread", verify(label, one.data(), op.count, 0, *op.ref, nullptr));
      for (size_t ci = 1; ci < counts.size(); ++ci) {
        const int threads = counts[ci];
        Out many = run(op, isa, threads);
        if (op.order_follows_threads) {
          check(label + fmt(": %d threads", threads), verify(label, many.data(), op.count, 0, *op.ref, nullptr));
          int64_t diff = -1;
          for (int rep = 0; rep < repeats && diff < 0; ++rep) diff = first_diff(many, run(op, isa, threads), op.count);
          check(label + fmt(": %d threads, same bits run after run", threads), diff < 0,
                fmt("element %lld differs between runs", static_cast<long long>(diff)));
        } else {
          const int64_t diff = first_diff(one, many, op.count);
          check(label + fmt(": 1 vs %d threads bitwise identical", threads), diff < 0,
                diff < 0 ? "" : fmt("element %lld: %.9g vs %.9g", static_cast<long long>(diff), one.buf[diff], many.buf[diff]));
        }
      }
    }
  }
  shears::set_active_isa(original_isa);
}

void test_threads() {
  const int original = shears::ThreadPool::instance().num_threads();
  test_thread_pool();
  test_thread_determinism();
  shears::ThreadPool::instance().set_num_threads(original);
}

// ---------------------------------------------------------------------------------------------

// Reports a hang (a deadlock in the pool, a kernel that never ends) as a failure instead of
// letting CI time out without a word.
// ---- Selection: select_smallest and nm_mask against a stable sort, on every ISA ----

// The k smallest of `scores` by (key, index), as masks (0 = selected or ineligible).
std::vector<uint8_t> sorted_selection(const std::vector<float>& scores, const std::vector<uint8_t>& eligible, int64_t k,
                                      cpu::NanPolicy nan, bool absolute) {
  std::vector<int64_t> order;
  for (int64_t i = 0; i < static_cast<int64_t>(scores.size()); ++i)
    if (eligible.empty() || eligible[static_cast<size_t>(i)]) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return cpu::score_key(scores[static_cast<size_t>(a)], nan, absolute) < cpu::score_key(scores[static_cast<size_t>(b)], nan, absolute);
  });
  std::vector<uint8_t> mask(scores.size(), 0);
  for (int64_t r = k; r < static_cast<int64_t>(order.size()); ++r) mask[static_cast<size_t>(order[static_cast<size_t>(r)])] = 1;
  return mask;
}

void test_select_isa(Isa isa) {
  shears::set_active_isa(isa);
  const std::string tag = std::string(" [") + shears::isa_name(isa) + "]";
  // Sizes below and above the sampled path's threshold (8 × 4096 entries), with ties, ±0, ±inf, NaN.
  const int64_t sizes[] = {1, 7, 1000, 40000, g_opt.quick ? 50000 : 150000};
  for (int64_t n : sizes)
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<float> s(static_cast<size_t>(n));
      for (auto& v : s) {
        const double u = static_cast<double>(g_rng() >> 11) * 0x1p-53;
        v = variant == 0   ? uniform()
            : variant == 1 ? static_cast<float>(below(5) - 2)
            : variant == 2 ? (u < 0.1 ? -0.0f : u < 0.2 ? std::numeric_limits<float>::infinity() : uniform())
                           : (u < 0.02 ? std::numeric_limits<float>::quiet_NaN() : uniform());
      }
      std::vector<uint8_t> eligible;
      if (variant % 2) {
        eligible.resize(static_cast<size_t>(n));
        for (auto& e : eligible) e = chance(0.8) ? 1 : 0;
      }
      int64_t total = 0;
      for (int64_t i = 0; i < n; ++i) total += eligible.empty() || eligible[static_cast<size_t>(i)];
      const cpu::NanPolicy nan = variant == 3 ? (chance(0.5) ? cpu::NanPolicy::kPrune : cpu::NanPolicy::kKeep) : cpu::NanPolicy::kError;
      for (bool absolute : {false, true})
        for (int64_t k : {int64_t{0}, int64_t{1}, total / 10, total / 2, total}) {
          if (k > total) continue;
          const auto want = sorted_selection(s, eligible, k, nan, absolute);
          for (bool scratch : {false, true}) {  // masks written after the checks, or in the counting pass
            std::vector<uint8_t> mask(static_cast<size_t>(n), 7);
            std::vector<cpu::ScoreBuffer> bufs{cpu::ScoreBuffer{s.data(), n, eligible.empty() ? nullptr : eligible.data(), mask.data()}};
            cpu::select_smallest(bufs, k, nan, absolute, scratch);
            check(fmt("select n=%lld variant=%d abs=%d k=%lld scratch=%d", static_cast<long long>(n), variant, absolute,
                      static_cast<long long>(k), scratch) + tag,
                  mask == want);
          }
        }
    }
  // N:M, including groups of more than 16 (the sorted path).
  for (auto [nn, m] : {std::pair<int, int>{2, 4}, {1, 4}, {4, 8}, {3, 16}, {5, 32}}) {
    const int64_t groups = g_opt.quick ? 50 : 400;
    std::vector<float> s(static_cast<size_t>(groups * m));
    for (auto& v : s) v = chance(0.2) ? 0.5f : uniform();
    std::vector<uint8_t> el(s.size());
    for (auto& e : el) e = chance(0.8) ? 1 : 0;
    std::vector<uint8_t> got(s.size());
    cpu::nm_mask(s.data(), static_cast<int64_t>(s.size()), m, nn, el.data(), cpu::NanPolicy::kError, got.data());
    bool ok = true;
    for (int64_t g = 0; g < groups && ok; ++g) {
      std::vector<float> gs(s.begin() + g * m, s.begin() + (g + 1) * m);
      std::vector<uint8_t> ge(el.begin() + g * m, el.begin() + (g + 1) * m);
      // Keep the n largest |score| among the eligible: prune the (eligible - n) smallest.
      int64_t eligible_count = 0;
      for (uint8_t e : ge) eligible_count += e;
      const auto want = sorted_selection(gs, ge, std::max<int64_t>(0, eligible_count - nn), cpu::NanPolicy::kError, true);
      for (int j = 0; j < m; ++j) ok = ok && got[static_cast<size_t>(g * m + j)] == want[static_cast<size_t>(j)];
    }
    check(fmt("nm %d:%d", nn, m) + tag, ok);
  }
}

void test_select() {
  const Isa original = shears::active_isa();
  for (Isa isa : shears::available_isas()) test_select_isa(isa);
  shears::set_active_isa(original);
}

void start_watchdog(int seconds) {
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    std::printf("  FAIL timed out after %d s in section '%s' (deadlock?)\n%lld passed, %lld failed\n", seconds,
                g_current_section.load(), static_cast<long long>(g_total.passed),
                static_cast<long long>(g_total.failed + 1));
    std::fflush(stdout);
    std::_Exit(3);
  }).detach();
}

[[noreturn]] void usage(const char* argv0, int status) {
  std::printf("usage: %s [--seed N | N] [--quick] [--verbose] [--timeout SECONDS] [--only SECTION,...]\n"
              "sections: gemm csr bsr random convert validate threads\n", argv0);
  std::exit(status);
}

bool parse_u64(const char* s, uint64_t* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool have_seed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      g_opt.quick = true;
    } else if (arg == "--verbose" || arg == "-v") {
      g_opt.verbose = true;
    } else if (arg == "--timeout" && i + 1 < argc) {
      uint64_t t = 0;
      if (!parse_u64(argv[++i], &t) || t == 0 || t > 86400) usage(argv[0], 2);
      g_opt.timeout = static_cast<int>(t);
    } else if (arg == "--only" && i + 1 < argc) {
      g_opt.only = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      usage(argv[0], 0);
    } else if (arg == "--seed" && i + 1 < argc) {
      if (!parse_u64(argv[++i], &g_opt.seed)) usage(argv[0], 2);
      have_seed = true;
    } else if (arg.rfind("--seed=", 0) == 0) {
      if (!parse_u64(arg.c_str() + 7, &g_opt.seed)) usage(argv[0], 2);
      have_seed = true;
    } else if (parse_u64(arg.c_str(), &g_opt.seed)) {
      have_seed = true;
    } else {
      usage(argv[0], 2);
    }
  }
  if (!have_seed) {
    const uint64_t t = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    g_opt.seed = (t ^ (t >> 29)) % 1000000007ull;
  }

  std::string isas, skipped;
  for (Isa isa : shears::available_isas()) isas += std::string(isas.empty() ? "" : " ") + shears::isa_name(isa);
#ifdef SHEARS_HAVE_AVX2
  if (!shears::isa_available(Isa::kAvx2)) skipped += " avx2";
#endif
#ifdef SHEARS_HAVE_AVX512
  if (!shears::isa_available(Isa::kAvx512)) skipped += " avx512";
#endif
#ifdef SHEARS_HAVE_NEON
  if (!shears::isa_available(Isa::kNeon)) skipped += " neon";
#endif
  std::printf("kernel_test: seed %llu%s (rerun: kernel_test --seed %llu%s)\n",
              static_cast<unsigned long long>(g_opt.seed), g_opt.quick ? ", quick" : "",
              static_cast<unsigned long long>(g_opt.seed), g_opt.quick ? " --quick" : "");
  std::printf("ISAs tested: %s; threads %d; cpu %s\n", isas.c_str(), shears::ThreadPool::instance().num_threads(),
              shears::cpu_model_name().c_str());
  if (!skipped.empty())
    std::printf("skipped (compiled in, not supported by this CPU/OS):%s\n", skipped.c_str());
  std::fflush(stdout);
  start_watchdog(g_opt.timeout);

  section("gemm", 1, test_gemm);
  section("csr", 2, test_csr);
  section("bsr", 3, test_bsr);
  section("random", 7, test_random_shapes);
  section("convert", 4, test_conversions);
  section("validate", 5, test_validation);
  section("threads", 6, test_threads);
  section("select", 8, test_select);

  std::printf("%lld passed, %lld failed\n", static_cast<long long>(g_total.passed),
              static_cast<long long>(g_total.failed));
  return g_total.failed == 0 ? 0 : 1;
}
