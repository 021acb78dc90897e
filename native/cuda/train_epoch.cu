// The trainer's epoch on the GPU (see train.h). Activations are feature-major ([features, batch])
// as on the CPU, so the same products apply: z = W·a, dW = g·aᵀ, da = Wᵀ·g for dense layers, CSR
// SpMM / SDDMM / transposed SpMM for sparse ones (weights and momentum in CSR order on the device).
// One stream carries the whole step; the only synchronisation per step is the loss read-back, which
// must precede the update (a NaN loss stops the epoch before it reaches the weights).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "kernels.h"
#include "launch.cuh"
#include "memory.h"
#include "train.h"

namespace shears::cuda {
namespace tr = cpu::train;
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t count) { return grid_stride_blocks(count, kThreads); }

// z[r, j] += b[r], then ReLU (when relu).
__global__ void bias_act_kernel(float* __restrict__ z, const float* __restrict__ b, int64_t out, int64_t n, bool relu) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < out * n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float v = z[i] + (b ? b[i / n] : 0.0f);
    z[i] = relu ? fmaxf(v, 0.0f) : v;
  }
}

// g = 0 where the layer's (ReLU) output is not positive.
__global__ void relu_grad_kernel(float* __restrict__ g, const float* __restrict__ out, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (!(out[i] > 0.0f)) g[i] = 0.0f;
}

// score += the criterion's statistic of (w, g) at every entry (cpu accumulate_score's rules).
__global__ void score_kernel(int criterion, float* __restrict__ score, const float* __restrict__ w,
                             const float* __restrict__ g, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    // Rounded products and sums (no fused multiply-add), as the CPU's accumulate_score computes them.
    const float wi = w[i], gi = g[i];
    float s = 0.0f;
    switch (static_cast<tr::Criterion>(criterion)) {
      case tr::Criterion::kGradient: s = fabsf(gi); break;
      case tr::Criterion::kTaylor: s = fabsf(__fmul_rn(wi, gi)); break;
      case tr::Criterion::kFisher: s = __fmul_rn(gi, gi); break;
      case tr::Criterion::kMovement: s = __fmul_rn(-wi, gi); break;
      case tr::Criterion::kNone: break;
    }
    score[i] = __fadd_rn(score[i], s);
  }
}

// db[r] = Σ_j g[r, j]: one warp per row.
__global__ void bias_grad_kernel(const float* __restrict__ g, int out, int n, float* __restrict__ db) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= out) return;
  float s = 0.f;
  for (int j = lane; j < n; j += kWarp) s += g[static_cast<int64_t>(row) * n + j];
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
  if (lane == 0) db[row] = s;
}

// splitmix64's finaliser: 64 well-mixed bits of x.
__host__ __device__ inline uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Dropout after a layer's activation (training): d = 1/(1-p) with probability 1-p, else 0, from a
// counter-based stream (`key` for the step and layer, then the element index); z *= d.
__global__ void dropout_kernel(float* __restrict__ z, float* __restrict__ d, int64_t count, float p, uint64_t key) {
  const float scale = 1.0f / (1.0f - p);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float u = static_cast<float>(mix64(key + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull) >> 40) * 0x1.0p-24f;
    d[i] = u >= p ? scale : 0.0f;
    z[i] *= d[i];
  }
}

// g *= d: the gradient through dropout.
__global__ void dropout_grad_kernel(float* __restrict__ g, const float* __restrict__ d, int64_t count) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    g[i] *= d[i];
}

// Activation statistics of z [out, n] (after ReLU, before dropout): abs[r] += Σ_j |z[r, j]| and
// zeros[r] += #{j : z[r, j] == 0}, in double as on the CPU; one warp per row.
__global__ void act_stats_kernel(const float* __restrict__ z, int out, int n, double* __restrict__ abs_sum,
                                 double* __restrict__ zeros) {
  const int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= out) return;
  double s = 0, c = 0;
  for (int j = lane; j < n; j += kWarp) {
    const float v = z[static_cast<int64_t>(row) * n + j];
    s += fabs(static_cast<double>(v));
    c += v == 0.0f;
  }
#pragma unroll
  for (int off = kWarp / 2; off > 0; off >>= 1) {
    s += __shfl_down_sync(0xffffffffu, s, off);
    c += __shfl_down_sync(0xffffffffu, c, off);
  }
  if (lane == 0) {
    abs_sum[row] += s;
    zeros[row] += c;
  }
}

// Softmax cross-entropy of logits [classes, n] (feature-major), one thread per sample, in double
// as on the CPU (loss_and_grad): g = dLoss/dlogits of the mean loss, the sample's loss and whether
// its argmax is right. With teacher logits: alpha·CE + (1 − alpha)·T²·KL(softmax(t/T) ‖ softmax(s/T)),
// gradient alpha·(p − onehot) + (1 − alpha)·T·(q_s − q_t), over n.
__global__ void softmax_ce_kernel(const float* __restrict__ logits, const int* __restrict__ y, int classes, int n,
                                  float* __restrict__ g, double* __restrict__ loss, int* __restrict__ correct,
                                  const float* __restrict__ teacher, double alpha, double temp) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  auto z = [&](const float* m, int c) { return static_cast<double>(m[static_cast<int64_t>(c) * n + j]); };
  double mx = -INFINITY;
  int arg = 0;
  for (int c = 0; c < classes; ++c)
    if (z(logits, c) > mx) {
      mx = z(logits, c);
      arg = c;
    }
  double sum = 0;
  for (int c = 0; c < classes; ++c) sum += exp(z(logits, c) - mx);
  const int label = y[j];
  double l = mx + log(sum) - z(logits, label);
  correct[j] = arg == label;
  const double inv_n = 1.0 / n;
  if (teacher == nullptr) {
    for (int c = 0; c < classes; ++c) {
      const double p = exp(z(logits, c) - mx) / sum;
      g[static_cast<int64_t>(c) * n + j] = static_cast<float>((p - (c == label ? 1.0 : 0.0)) * inv_n);
    }
    loss[j] = l;
    return;
  }
  double ms = -INFINITY, mt = -INFINITY;
  for (int c = 0; c < classes; ++c) {
    ms = fmax(ms, z(logits, c) / temp);
    mt = fmax(mt, z(teacher, c) / temp);
  }
  double ss = 0, st = 0;
  for (int c = 0; c < classes; ++c) {
    ss += exp(z(logits, c) / temp - ms);
    st += exp(z(teacher, c) / temp - mt);
  }
  const double log_ss = log(ss), log_st = log(st);
  double kl = 0;
  for (int c = 0; c < classes; ++c) {
    const double lt = z(teacher, c) / temp - mt - log_st, ls = z(logits, c) / temp - ms - log_ss;
    kl += exp(lt) * (lt - ls);
  }
  loss[j] = alpha * l + (1 - alpha) * temp * temp * kl;
  for (int c = 0; c < classes; ++c) {
    const double ce = exp(z(logits, c) - mx) / sum - (c == label ? 1.0 : 0.0);
    const double qs = exp(z(logits, c) / temp - ms) / ss, qt = exp(z(teacher, c) / temp - mt) / st;
    g[static_cast<int64_t>(c) * n + j] = static_cast<float>((alpha * ce + (1 - alpha) * temp * (qs - qt)) * inv_n);
  }
}

class Stream {
 public:
  Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(s_); }
  cudaStream_t get() const { return s_; }
  void sync() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_ = nullptr;
};

// Page-locked host memory (the staging buffers batches travel through).
template <class T>
class Pinned {
 public:
  explicit Pinned(int64_t count) {
    if (count > 0) check(cudaMallocHost(reinterpret_cast<void**>(&p_), static_cast<size_t>(count) * sizeof(T)), "cudaMallocHost");
  }
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
  ~Pinned() {
    if (p_) cudaFreeHost(p_);
  }
  T* data() { return p_; }

 private:
  T* p_ = nullptr;
};

// A layer on the device. Dense: w, vw, dw hold [out, in] and mask is used; sparse: they hold the
// kept entries in CSR order (pos maps them to the dense index), ptr/idx the pattern.
struct DeviceLayer {
  bool sparse = false;
  int64_t count = 0;  // entries in w
  DeviceBuffer<float> w, vw, dw, b, vb, db;
  DeviceBuffer<float> score;  // the criterion's accumulated statistic (entries as w), when kept
  // Activation statistics summed on the device since the upload; `*_reported` is the part already
  // added to the host arrays (a download adds only what is new, so events mid-epoch count once).
  DeviceBuffer<double> act_abs, act_zero;
  std::vector<double> abs_reported, zero_reported;
  DeviceBuffer<uint8_t> mask;
  DeviceBuffer<int32_t> ptr, idx;
  std::vector<int64_t> pos;
};

void upload_layer(tr::Layer& l, bool sparse, bool scores, DeviceLayer& d) {
  tr::apply_mask(l);
  d.sparse = sparse;
  if (sparse) {
    std::vector<int32_t> ptr, idx;
    tr::mask_pattern(l, ptr, idx, d.pos);
    d.count = static_cast<int64_t>(idx.size());
    std::vector<float> val(idx.size()), vel(idx.size());
    for (size_t p = 0; p < idx.size(); ++p) {
      val[p] = l.w[d.pos[p]];
      vel[p] = l.vw ? l.vw[d.pos[p]] : 0.0f;
    }
    d.ptr = DeviceBuffer<int32_t>(l.out + 1);
    d.idx = DeviceBuffer<int32_t>(d.count);
    d.ptr.upload(ptr.data(), l.out + 1);
    d.idx.upload(idx.data(), d.count);
    d.w = DeviceBuffer<float>(d.count);
    d.vw = DeviceBuffer<float>(d.count);
    d.w.upload(val.data(), d.count);
    d.vw.upload(vel.data(), d.count);
    d.mask = DeviceBuffer<uint8_t>();
  } else {
    d.count = l.in * l.out;
    d.w = DeviceBuffer<float>(d.count);
    d.vw = DeviceBuffer<float>(d.count);
    d.mask = DeviceBuffer<uint8_t>(d.count);
    d.w.upload(l.w, d.count);
    if (l.vw) d.vw.upload(l.vw, d.count);
    else if (d.count > 0) check(cudaMemset(d.vw.data(), 0, static_cast<size_t>(d.count) * sizeof(float)), "cudaMemset");
    d.mask.upload(l.mask, d.count);
  }
  d.score = DeviceBuffer<float>(scores && l.score ? d.count : 0);
  if (d.score.size() > 0) {
    if (sparse) {
      std::vector<float> sc(static_cast<size_t>(d.count));
      for (size_t p = 0; p < d.pos.size(); ++p) sc[p] = l.score[d.pos[p]];
      d.score.upload(sc.data(), d.count);
    } else {
      d.score.upload(l.score, d.count);
    }
  }
  const int64_t stats = l.act_abs ? l.out : 0;
  d.act_abs = DeviceBuffer<double>(stats);
  d.act_zero = DeviceBuffer<double>(stats);
  d.abs_reported.assign(static_cast<size_t>(stats), 0.0);
  d.zero_reported.assign(static_cast<size_t>(stats), 0.0);
  if (stats > 0) {
    check(cudaMemset(d.act_abs.data(), 0, static_cast<size_t>(stats) * sizeof(double)), "cudaMemset");
    check(cudaMemset(d.act_zero.data(), 0, static_cast<size_t>(stats) * sizeof(double)), "cudaMemset");
  }
  d.dw = DeviceBuffer<float>(d.count);
  d.b = DeviceBuffer<float>(l.b ? l.out : 0);
  d.vb = DeviceBuffer<float>(l.b ? l.out : 0);
  d.db = DeviceBuffer<float>(l.out);
  if (l.b) {
    d.b.upload(l.b, l.out);
    if (l.vb) d.vb.upload(l.vb, l.out);
    else check(cudaMemset(d.vb.data(), 0, static_cast<size_t>(l.out) * sizeof(float)), "cudaMemset");
  }
}

void download_layer(tr::Layer& l, DeviceLayer& d) {
  if (d.sparse) {
    std::vector<float> val(static_cast<size_t>(d.count)), vel(val.size());
    d.w.download(val.data(), d.count);
    d.vw.download(vel.data(), d.count);
    for (size_t p = 0; p < d.pos.size(); ++p) {
      l.w[d.pos[p]] = val[p];
      if (l.vw) l.vw[d.pos[p]] = vel[p];
    }
    if (d.score.size() > 0) {  // pruned entries keep the scores they had (the CPU epoch's too)
      d.score.download(val.data(), d.count);
      for (size_t p = 0; p < d.pos.size(); ++p) l.score[d.pos[p]] = val[p];
    }
  } else {
    d.w.download(l.w, d.count);
    if (l.vw) d.vw.download(l.vw, d.count);
    if (d.score.size() > 0) d.score.download(l.score, d.count);
  }
  if (l.b) {
    d.b.download(l.b, l.out);
    if (l.vb) d.vb.download(l.vb, l.out);
  }
  if (d.act_abs.size() > 0) {
    std::vector<double> sums(static_cast<size_t>(l.out)), zeros(sums.size());
    d.act_abs.download(sums.data(), l.out);
    d.act_zero.download(zeros.data(), l.out);
    for (size_t r = 0; r < sums.size(); ++r) {
      l.act_abs[r] += sums[r] - d.abs_reported[r];
      l.act_zero[r] += zeros[r] - d.zero_reported[r];
    }
    d.abs_reported = std::move(sums);
    d.zero_reported = std::move(zeros);
  }
}

}  // namespace

tr::EpochResult run_epoch(std::vector<tr::Layer>& layers, const tr::EpochConfig& cfg) {
  require_usable();
  const int64_t features = layers.front().in, classes = layers.back().out;
  const int64_t batch = std::min(cfg.batch, cfg.samples);
  const int64_t steps = (cfg.samples + batch - 1) / batch;
  int_dim(batch, "batchSize");
  int64_t widest = features;
  for (const tr::Layer& l : layers) widest = std::max(widest, l.out);

  Stream stream;
  const cudaStream_t s = stream.get();
  std::vector<DeviceLayer> dev(layers.size());
  std::vector<int> sparse(layers.size(), 0);
  // False while the device holds a model older than the host's (an upload after pruning that
  // failed partway): then the host arrays, synced before the event, are the model to keep.
  bool device_current = true;
  auto upload_all = [&] {
    device_current = false;
    for (size_t l = 0; l < layers.size(); ++l) {
      sparse[l] = tr::runs_sparse(layers[l], cfg.sparse_below);
      upload_layer(layers[l], sparse[l] != 0, cfg.criterion != tr::Criterion::kNone, dev[l]);
    }
    // The uploads ran on the legacy stream, which does not order work on `s`: finish them first.
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    device_current = true;
  };
  auto download_all = [&] {
    stream.sync();
    for (size_t l = 0; l < layers.size(); ++l) download_layer(layers[l], dev[l]);
  };
  upload_all();

  std::vector<DeviceBuffer<float>> act;
  act.emplace_back(features * batch);
  for (const tr::Layer& l : layers) act.emplace_back(l.out * batch);
  // RigL: the gradient at every entry of CSR layers ([out, in]) at regrowth steps (dense layers
  // have it in dw). Allocated for every layer that may run CSR, here, before the stream starts.
  std::vector<DeviceBuffer<float>> dense_grad(layers.size());
  bool rigl = false;
  for (const tr::RegrowEvent& e : cfg.regrow) rigl |= !e.random;
  if (rigl)
    for (size_t l = 0; l < layers.size(); ++l) dense_grad[l] = DeviceBuffer<float>(layers[l].out * layers[l].in);
  std::vector<DeviceBuffer<float>> drop(layers.size());  // dropout scales of the step, [out, batch]
  for (size_t l = 0; l + 1 < layers.size(); ++l)
    if (layers[l].dropout > 0) drop[l] = DeviceBuffer<float>(layers[l].out * batch);
  const uint64_t dropout_seed = mix64(cfg.seed ^ 0x5d1f3c2b7a9e4d61ull);
  DeviceBuffer<float> g0(widest * batch), g1(widest * batch);
  DeviceBuffer<int32_t> labels(batch);
  DeviceBuffer<double> loss_dev(batch);
  DeviceBuffer<int32_t> correct_dev(batch);
  Pinned<float> xs0(features * batch), xs1(features * batch);
  Pinned<int32_t> ys0(batch), ys1(batch);
  Pinned<double> loss_host(batch);
  Pinned<int32_t> correct_host(batch);
  // The teacher (distillation): dense weights on the device for the epoch, its activations per step.
  struct DeviceTeacher {
    DeviceBuffer<float> w, b, act;
  };
  std::vector<DeviceTeacher> teacher(cfg.teacher ? cfg.teacher->size() : 0);
  for (size_t t = 0; t < teacher.size(); ++t) {
    const tr::TeacherLayer& T = (*cfg.teacher)[t];
    teacher[t].w = DeviceBuffer<float>(T.out * T.in);
    teacher[t].w.upload(T.w, T.out * T.in);
    teacher[t].b = DeviceBuffer<float>(T.b ? T.out : 0);
    if (T.b) teacher[t].b.upload(T.b, T.out);
    teacher[t].act = DeviceBuffer<float>(T.out * batch);
  }
  const float* teacher_logits = teacher.empty() ? nullptr : teacher.back().act.data();
  // Blocks from the caching allocator may have been released by work on other streams that is still
  // running (the allocator does not track streams): wait for it before `s` uses them.
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  float* xs[2] = {xs0.data(), xs1.data()};
  int32_t* ys[2] = {ys0.data(), ys1.data()};

  const std::vector<int64_t> order = tr::epoch_order(cfg.samples, cfg.seed, cfg.shuffle);
  auto stage = [&](int64_t step) {  // gathers a step's batch into its staging buffers (host work)
    const int64_t first = step * batch, n = std::min(batch, cfg.samples - first);
    tr::gather_batch(cfg.x, features, order.data() + first, n, xs[step % 2]);
    for (int64_t j = 0; j < n; ++j) ys[step % 2][j] = cfg.y[order[static_cast<size_t>(first + j)]];
  };
  tr::EpochSteps book(layers, cfg, steps);
  tr::RegrowSchedule regrowth(cfg);
  try {
    if (steps > 0) stage(0);
    for (int64_t step = 0; step < steps; ++step) {
      if (!book.begin(step, download_all, upload_all)) break;

      const int64_t first = step * batch, n = std::min(batch, cfg.samples - first);
      const int ni = static_cast<int>(n);
      const tr::RegrowEvent* regrow = regrowth.at(step);
      const bool want_dense_grad = regrow && !regrow->random;
      check(cudaMemcpyAsync(act[0].data(), xs[step % 2], static_cast<size_t>(features * n) * sizeof(float), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
      check(cudaMemcpyAsync(labels.data(), ys[step % 2], static_cast<size_t>(n) * sizeof(int32_t), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
      // Forward.
      for (size_t l = 0; l < layers.size(); ++l) {
        const tr::Layer& L = layers[l];
        DeviceLayer& D = dev[l];
        float* z = act[l + 1].data();
        if (D.sparse) csr_spmm_launch(L.out, n, D.ptr.data(), D.idx.data(), D.w.data(), act[l].data(), z, s);
        else gemm_launch(D.w.data(), act[l].data(), z, L.out, L.in, n, false, false, false, s);
        bias_act_kernel<<<grid_for(L.out * n), kThreads, 0, s>>>(z, L.b ? D.b.data() : nullptr, L.out, n, L.relu);
        check_launch("bias_act_kernel");
        if (D.act_abs.size() > 0) {
          act_stats_kernel<<<row_blocks(L.out), kWarpsPerBlock * kWarp, 0, s>>>(z, static_cast<int>(L.out), ni, D.act_abs.data(),
                                                                                 D.act_zero.data());
          check_launch("act_stats_kernel");
        }
        if (drop[l].size() > 0) {
          const uint64_t key = mix64(dropout_seed + static_cast<uint64_t>(step) * layers.size() + l);
          dropout_kernel<<<grid_for(L.out * n), kThreads, 0, s>>>(z, drop[l].data(), L.out * n, L.dropout, key);
          check_launch("dropout_kernel");
        }
      }
      const float* t_in = act[0].data();
      for (size_t t = 0; t < teacher.size(); ++t) {
        const tr::TeacherLayer& T = (*cfg.teacher)[t];
        float* tz = teacher[t].act.data();
        gemm_launch(teacher[t].w.data(), t_in, tz, T.out, T.in, n, false, false, false, s);
        bias_act_kernel<<<grid_for(T.out * n), kThreads, 0, s>>>(tz, T.b ? teacher[t].b.data() : nullptr, T.out, n, T.relu);
        check_launch("bias_act_kernel");
        t_in = tz;
      }
      softmax_ce_kernel<<<static_cast<unsigned>((n + 127) / 128), 128, 0, s>>>(act[layers.size()].data(), labels.data(),
                                                                               static_cast<int>(classes), ni, g0.data(),
                                                                               loss_dev.data(), correct_dev.data(),
                                                                               teacher_logits, cfg.alpha, cfg.temperature);
      check_launch("softmax_ce_kernel");
      check(cudaMemcpyAsync(loss_host.data(), loss_dev.data(), static_cast<size_t>(n) * sizeof(double), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
      check(cudaMemcpyAsync(correct_host.data(), correct_dev.data(), static_cast<size_t>(n) * sizeof(int32_t), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
      stream.sync();
      double loss = 0;
      int64_t correct = 0;
      for (int64_t j = 0; j < n; ++j) {
        loss += loss_host.data()[j];
        correct += correct_host.data()[j];
      }
      tr::EpochSteps::check_loss(loss, step);
      // Backward.
      float* g = g0.data();
      float* other = g1.data();
      for (size_t li = layers.size(); li-- > 0;) {
        const tr::Layer& L = layers[li];
        DeviceLayer& D = dev[li];
        if (drop[li].size() > 0) {
          dropout_grad_kernel<<<grid_for(L.out * n), kThreads, 0, s>>>(g, drop[li].data(), L.out * n);
          check_launch("dropout_grad_kernel");
        }
        if (L.relu) {
          relu_grad_kernel<<<grid_for(L.out * n), kThreads, 0, s>>>(g, act[li + 1].data(), L.out * n);
          check_launch("relu_grad_kernel");
        }
        bias_grad_kernel<<<row_blocks(L.out), kWarpsPerBlock * kWarp, 0, s>>>(g, static_cast<int>(L.out), ni, D.db.data());
        check_launch("bias_grad_kernel");
        const float* a = act[li].data();
        if (D.sparse) {
          csr_sddmm_launch(L.out, n, D.ptr.data(), D.idx.data(), g, a, D.dw.data(), s);
          if (want_dense_grad) gemm_launch(g, a, dense_grad[li].data(), L.out, n, L.in, false, true, false, s);
          if (li > 0) csr_spmmt_launch(L.out, L.in, n, D.ptr.data(), D.idx.data(), D.w.data(), g, other, s);
        } else {
          gemm_launch(g, a, D.dw.data(), L.out, n, L.in, false, true, false, s);
          if (li > 0) gemm_launch(D.w.data(), g, other, L.in, L.out, n, true, false, false, s);
        }
        std::swap(g, other);
      }
      // Scores (from the weights before the update, frozen layers too), then the update.
      const float lr = cfg.lr[step];
      for (size_t l = 0; l < layers.size(); ++l) {
        const tr::Layer& L = layers[l];
        DeviceLayer& D = dev[l];
        if (D.score.size() > 0) {
          score_kernel<<<grid_for(D.count), kThreads, 0, s>>>(static_cast<int>(cfg.criterion), D.score.data(), D.w.data(),
                                                               D.dw.data(), D.count);
          check_launch("score_kernel");
        }
        if (L.frozen) continue;
        masked_sgd_launch(D.count, D.w.data(), D.dw.data(), D.vw.data(), D.sparse ? nullptr : D.mask.data(), lr, cfg.momentum,
                          cfg.weight_decay, cfg.nesterov, s);
        if (L.b) masked_sgd_launch(L.out, D.b.data(), D.db.data(), D.vb.data(), nullptr, lr, cfg.momentum, cfg.weight_decay, cfg.nesterov, s);
      }
      if (regrow) {
        // Drop and grow on the host arrays (the CPU epoch's code and random stream), then upload
        // the new patterns: the device state comes back first, as for a pruning event.
        download_all();
        std::vector<std::vector<float>> grads(layers.size());
        if (want_dense_grad)
          for (size_t l = 0; l < layers.size(); ++l) {
            grads[l].resize(static_cast<size_t>(layers[l].out * layers[l].in));
            (dev[l].sparse ? dense_grad[l] : dev[l].dw).download(grads[l].data(), layers[l].out * layers[l].in);
          }
        device_current = false;  // the host arrays are the model from here until the upload succeeds
        regrowth.run(layers, grads);
        upload_all();
      }
      regrowth.end_step(step);
      // The next batch is gathered while the GPU runs this step's backward and update.
      if (step + 1 < steps) stage(step + 1);
      book.end(step, n, loss, correct);
    }
  } catch (...) {
    // Bring the device state back when the device answers and holds the current model: as after
    // the last completed step (or part-way through an update whose launch failed).
    if (device_current) {
      try {
        download_all();
      } catch (...) {
      }
    }
    throw;
  }
  download_all();
  tr::EpochResult result = book.finish();
  for (size_t l = 0; l < layers.size(); ++l) result.sparse_layers.push_back(sparse[l]);
  return result;
}

}  // namespace shears::cuda
