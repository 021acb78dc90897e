// 2:4 semi-structured SpMM through cuSPARSELt (NVIDIA's library for the sparse tensor cores of
// sm_80+; linked, not rewritten): C = A·B with at most two nonzeros in every four consecutive
// entries of A's rows. cuSPARSELt takes 2:4 for 16-bit inputs (its FP32 mode is 1:2), so A and B are
// rounded to BF16 on the device and C comes back in BF16, sums kept in FP32 (the arithmetic of
// PyTorch's semi-structured BF16 tensors). Built only where CMake found cuSPARSELt
// (SHEARS_HAVE_CUSPARSELT); elsewhere every entry throws ERR_SHEARS_CUDA saying so.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <string>

#include "check.h"
#include "kernels.h"
#include "memory.h"

#ifdef SHEARS_HAVE_CUSPARSELT
#include <cusparseLt.h>
#endif

namespace shears::cuda {

#ifdef SHEARS_HAVE_CUSPARSELT
namespace {

const char* status_name(cusparseStatus_t s) {
  switch (s) {
    case CUSPARSE_STATUS_NOT_INITIALIZED: return "CUSPARSE_STATUS_NOT_INITIALIZED";
    case CUSPARSE_STATUS_ALLOC_FAILED: return "CUSPARSE_STATUS_ALLOC_FAILED";
    case CUSPARSE_STATUS_INVALID_VALUE: return "CUSPARSE_STATUS_INVALID_VALUE";
    case CUSPARSE_STATUS_ARCH_MISMATCH: return "CUSPARSE_STATUS_ARCH_MISMATCH (2:4 sparse tensor cores need sm_80 or later)";
    case CUSPARSE_STATUS_EXECUTION_FAILED: return "CUSPARSE_STATUS_EXECUTION_FAILED";
    case CUSPARSE_STATUS_INTERNAL_ERROR: return "CUSPARSE_STATUS_INTERNAL_ERROR";
    case CUSPARSE_STATUS_NOT_SUPPORTED: return "CUSPARSE_STATUS_NOT_SUPPORTED";
    case CUSPARSE_STATUS_INSUFFICIENT_RESOURCES: return "CUSPARSE_STATUS_INSUFFICIENT_RESOURCES";
    default: return "an unknown cuSPARSE status";
  }
}

void check_lt(cusparseStatus_t s, const char* what) {
  if (s == CUSPARSE_STATUS_SUCCESS) return;
  const bool oom = s == CUSPARSE_STATUS_ALLOC_FAILED || s == CUSPARSE_STATUS_INSUFFICIENT_RESOURCES;
  throw Error(oom ? ErrorKind::kAlloc : ErrorKind::kDevice, std::string(what) + " failed: " + status_name(s) + " (code " +
                                                                std::to_string(static_cast<int>(s)) + ")");
}

// One handle per thread and device, as for cuBLAS (gemm.cu): a handle is state tied to the device
// current when it was made, and the addon's threads live as long as the process.
const cusparseLtHandle_t* lt_handle() {
  thread_local std::map<int, cusparseLtHandle_t> handles;
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  auto it = handles.find(dev);
  if (it == handles.end()) {
    cusparseLtHandle_t h;
    check_lt(cusparseLtInit(&h), "cusparseLtInit");
    it = handles.emplace(dev, h).first;
  }
  return &it->second;
}

// cuSPARSELt 0.5.2 renamed the 16-bit compute mode (FP32 accumulation either way).
#if defined(CUSPARSELT_VERSION) && CUSPARSELT_VERSION >= 502
constexpr cusparseComputeType kCompute = CUSPARSE_COMPUTE_32F;
#else
constexpr cusparseComputeType kCompute = CUSPARSE_COMPUTE_16F;
#endif
constexpr unsigned kAlignment = 16;  // bytes; device allocations are 256-byte aligned

}  // namespace

struct Spmm24::Impl {
  const cusparseLtHandle_t* h = nullptr;
  cusparseLtMatDescriptor_t a{}, b{}, c{};
  cusparseLtMatmulDescriptor_t matmul{};
  cusparseLtMatmulAlgSelection_t alg{};
  cusparseLtMatmulPlan_t plan{};
  bool have_a = false, have_b = false, have_c = false, have_alg = false, have_plan = false;
  DeviceBuffer<unsigned char> compressed, workspace;

  ~Impl() {
    if (have_plan) cusparseLtMatmulPlanDestroy(&plan);
#if defined(CUSPARSELT_VERSION) && CUSPARSELT_VERSION >= 800
    if (have_alg) cusparseLtMatmulAlgSelectionDestroy(&alg);  // 0.8 made the selection an owned object
#endif
    if (have_c) cusparseLtMatDescriptorDestroy(&c);
    if (have_b) cusparseLtMatDescriptorDestroy(&b);
    if (have_a) cusparseLtMatDescriptorDestroy(&a);
  }
};

Spmm24::Spmm24(const __nv_bfloat16* a16, int64_t m, int64_t k, int64_t n) : impl_(new Impl) {
  try {
    Impl& p = *impl_;
    p.h = lt_handle();
    check_lt(cusparseLtStructuredDescriptorInit(p.h, &p.a, m, k, k, kAlignment, CUDA_R_16BF, CUSPARSE_ORDER_ROW,
                                                CUSPARSELT_SPARSITY_50_PERCENT),
             "cusparseLtStructuredDescriptorInit");
    p.have_a = true;
    check_lt(cusparseLtDenseDescriptorInit(p.h, &p.b, k, n, n, kAlignment, CUDA_R_16BF, CUSPARSE_ORDER_ROW),
             "cusparseLtDenseDescriptorInit");
    p.have_b = true;
    check_lt(cusparseLtDenseDescriptorInit(p.h, &p.c, m, n, n, kAlignment, CUDA_R_16BF, CUSPARSE_ORDER_ROW),
             "cusparseLtDenseDescriptorInit");
    p.have_c = true;
    check_lt(cusparseLtMatmulDescriptorInit(p.h, &p.matmul, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                            CUSPARSE_OPERATION_NON_TRANSPOSE, &p.a, &p.b, &p.c, &p.c, kCompute),
             "cusparseLtMatmulDescriptorInit");
    check_lt(cusparseLtMatmulAlgSelectionInit(p.h, &p.alg, &p.matmul, CUSPARSELT_MATMUL_ALG_DEFAULT),
             "cusparseLtMatmulAlgSelectionInit");
    p.have_alg = true;
    check_lt(cusparseLtMatmulPlanInit(p.h, &p.plan, &p.matmul, &p.alg), "cusparseLtMatmulPlanInit");
    p.have_plan = true;
    size_t workspace = 0, compressed = 0, scratch = 0;
    check_lt(cusparseLtMatmulGetWorkspace(p.h, &p.plan, &workspace), "cusparseLtMatmulGetWorkspace");
    p.workspace = DeviceBuffer<unsigned char>(static_cast<int64_t>(workspace));

    // The pattern as the library sees it (after rounding to BF16): the caller checked the FP32
    // values, so a failure here is the library's word against ours, reported rather than computed.
    DeviceBuffer<int> valid(1);
    check_lt(cusparseLtSpMMAPruneCheck2(p.h, &p.a, 1, CUSPARSE_OPERATION_NON_TRANSPOSE, a16, valid.data(), nullptr),
             "cusparseLtSpMMAPruneCheck2");
    int invalid = 0;
    valid.download(&invalid, 1);
    if (invalid != 0) throw Error(ErrorKind::kRange, "Expected a 2:4 matrix for a but cuSPARSELt found a group of four with more than two nonzeros after rounding to BF16");

    check_lt(cusparseLtSpMMACompressedSize2(p.h, &p.a, &compressed, &scratch), "cusparseLtSpMMACompressedSize2");
    p.compressed = DeviceBuffer<unsigned char>(static_cast<int64_t>(compressed));
    DeviceBuffer<unsigned char> buffer(static_cast<int64_t>(scratch));
    check_lt(cusparseLtSpMMACompress2(p.h, &p.a, 1, CUSPARSE_OPERATION_NON_TRANSPOSE, a16, p.compressed.data(),
                                      buffer.data(), nullptr),
             "cusparseLtSpMMACompress2");
    // The scratch goes back to the cache below: let the compression finish with it first.
    check(cudaStreamSynchronize(nullptr), "cusparseLtSpMMACompress2");
  } catch (...) {
    delete impl_;
    throw;
  }
}

Spmm24::~Spmm24() { delete impl_; }

void Spmm24::run(const __nv_bfloat16* b16, __nv_bfloat16* c16, cudaStream_t stream) {
  const float alpha = 1.0f, beta = 0.0f;
  check_lt(cusparseLtMatmul(impl_->h, &impl_->plan, &alpha, impl_->compressed.data(), b16, &beta, c16, c16,
                            impl_->workspace.data(), &stream, 1),
           "cusparseLtMatmul");
}

bool have_cusparselt() { return true; }
void require_cusparselt() {}

#else

struct Spmm24::Impl {};
bool have_cusparselt() { return false; }
void require_cusparselt() {
  throw Error(ErrorKind::kDevice,
              "This CUDA build of shears has no cuSPARSELt (2:4 products): install it (or set CUSPARSELT_ROOT) and run npm run build:cuda again");
}
Spmm24::Spmm24(const __nv_bfloat16*, int64_t, int64_t, int64_t) { require_cusparselt(); }
Spmm24::~Spmm24() = default;
void Spmm24::run(const __nv_bfloat16*, __nv_bfloat16*, cudaStream_t) { require_cusparselt(); }

#endif

void spmm_24_host(const float* a, const float* b, int64_t m, int64_t k, int64_t n, float* c) {
  require_usable();
  require_cusparselt();
  if (m == 0 || n == 0) return;  // nothing to compute (and no empty descriptor for the library)
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  DeviceBuffer<__nv_bfloat16> a16(m * k), b16(k * n), c16(m * n);
  upload_bf16(a, m * k, a16.data(), true);
  upload_bf16(b, k * n, b16.data());
  Spmm24 product(a16.data(), m, k, n);
  product.run(b16.data(), c16.data());
  DeviceBuffer<float> dc(m * n);
  from_bf16_launch(c16.data(), dc.data(), m * n);
  dc.download(c, m * n);
}

}  // namespace shears::cuda
