#include "mlp.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "../../core/cpu_features.h"
#include "../../core/errors.h"
#include "../../core/thread_pool.h"
#include "../gemm/gemm.h"
#include "../select/select.h"
#include "../sparse/sparse.h"

namespace shears::cpu::train {

int64_t kept_count(const Layer& l) {
  int64_t k = 0;
  const int64_t size = l.in * l.out;
  for (int64_t i = 0; i < size; ++i) k += l.mask[i] != 0;
  return k;
}

void apply_mask(Layer& l) {
  const int64_t size = l.in * l.out;
  parallel_for(size, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (!l.mask[i]) {
        l.w[i] = 0.0f;
        if (l.vw) l.vw[i] = 0.0f;
      }
  });
}

bool runs_sparse(const Layer& l, double sparse_below) {
  if (l.execution >= 0) return l.execution == 1;
  const int64_t size = l.in * l.out;
  return size > 0 && static_cast<double>(kept_count(l)) <= sparse_below * static_cast<double>(size);
}

void mask_pattern(const Layer& l, std::vector<int32_t>& ptr, std::vector<int32_t>& idx, std::vector<int64_t>& pos) {
  ptr.assign(static_cast<size_t>(l.out) + 1, 0);
  idx.clear();
  pos.clear();
  for (int64_t r = 0; r < l.out; ++r) {
    for (int64_t c = 0; c < l.in; ++c)
      if (l.mask[r * l.in + c]) {
        idx.push_back(static_cast<int32_t>(c));
        pos.push_back(r * l.in + c);
      }
    ptr[static_cast<size_t>(r) + 1] = static_cast<int32_t>(idx.size());
  }
}

namespace {

// splitmix64: small, fast and good enough for shuffles and dropout masks.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
};

// A layer's CSR during an epoch: pattern, values and momentum in pattern order, the dense index of
// each entry, and the transposed pattern (with the permutation that refreshes its values).
struct SparseState {
  std::vector<int32_t> ptr, idx, tptr, tidx;
  std::vector<float> val, vel, grad, tval;
  std::vector<int64_t> pos, tperm;
  CsrView view(const Layer& l) const {
    return CsrView{l.out, l.in, ptr.data(), idx.data(), val.data(), static_cast<int64_t>(idx.size())};
  }
  CsrView tview(const Layer& l) const {
    return CsrView{l.in, l.out, tptr.data(), tidx.data(), tval.data(), static_cast<int64_t>(tidx.size())};
  }
};

void build_sparse(const Layer& l, SparseState& s) {
  mask_pattern(l, s.ptr, s.idx, s.pos);
  const size_t nnz = s.idx.size();
  s.val.resize(nnz);
  s.vel.resize(nnz);
  s.grad.resize(nnz);
  s.tval.resize(nnz);
  for (size_t p = 0; p < nnz; ++p) {
    s.val[p] = l.w[s.pos[p]];
    s.vel[p] = l.vw ? l.vw[s.pos[p]] : 0.0f;
  }
  // Transpose by counting sort over columns (rows of the transpose stay sorted).
  s.tptr.assign(static_cast<size_t>(l.in) + 1, 0);
  for (int32_t c : s.idx) ++s.tptr[static_cast<size_t>(c) + 1];
  for (int64_t c = 0; c < l.in; ++c) s.tptr[static_cast<size_t>(c) + 1] += s.tptr[static_cast<size_t>(c)];
  s.tidx.resize(nnz);
  s.tperm.resize(nnz);
  std::vector<int32_t> next(s.tptr.begin(), s.tptr.end() - 1);
  for (int64_t r = 0; r < l.out; ++r)
    for (int32_t p = s.ptr[static_cast<size_t>(r)]; p < s.ptr[static_cast<size_t>(r) + 1]; ++p) {
      const int32_t slot = next[static_cast<size_t>(s.idx[static_cast<size_t>(p)])]++;
      s.tidx[static_cast<size_t>(slot)] = static_cast<int32_t>(r);
      s.tperm[static_cast<size_t>(slot)] = p;
    }
}

void write_back(Layer& l, const SparseState& s) {
  for (size_t p = 0; p < s.pos.size(); ++p) {
    l.w[s.pos[p]] = s.val[p];
    if (l.vw) l.vw[s.pos[p]] = s.vel[p];
  }
}

// z[out, n] = W·a + b, then ReLU: the forward of one layer (dense or sparse).
void affine(const Layer& l, const CsrView* s, const float* a, int64_t n, float* z) {
  const SparseKernels& sk = sparse_kernels(active_isa());
  if (s) csr_spmm(sk, *s, a, n, z);
  else gemm(l.w, a, z, l.out, l.in, n, false, false);
  parallel_for(l.out, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = z + r * n;
      const float bias = l.b ? l.b[r] : 0.0f;
      if (l.relu)
        for (int64_t j = 0; j < n; ++j) row[j] = std::max(row[j] + bias, 0.0f);
      else
        for (int64_t j = 0; j < n; ++j) row[j] += bias;
    }
  });
}

// Teacher forward (dense, no masks): logits [classes, n].
void teacher_forward(const std::vector<TeacherLayer>& t, const float* a0, int64_t n, std::vector<std::vector<float>>& act) {
  act.resize(t.size());
  const float* a = a0;
  for (size_t i = 0; i < t.size(); ++i) {
    const TeacherLayer& l = t[i];
    act[i].resize(static_cast<size_t>(l.out * n));
    float* z = act[i].data();
    gemm(l.w, a, z, l.out, l.in, n, false, false);
    for (int64_t r = 0; r < l.out; ++r)
      for (int64_t j = 0; j < n; ++j) {
        float v = z[r * n + j] + (l.b ? l.b[r] : 0.0f);
        z[r * n + j] = l.relu ? std::max(v, 0.0f) : v;
      }
    a = z;
  }
}

// Softmax cross-entropy (and distillation) over logits [classes, n] (feature-major): writes
// dLoss/dlogits of the mean loss into g, returns the summed loss, counts correct argmaxes.
double loss_and_grad(const float* logits, const int32_t* y, int64_t classes, int64_t n, float* g,
                     const float* teacher, float alpha, float temp, int64_t& correct) {
  double total = 0;
  std::vector<double> p(static_cast<size_t>(classes)), qs(static_cast<size_t>(classes)), qt(static_cast<size_t>(classes));
  const double inv_n = 1.0 / static_cast<double>(n);
  for (int64_t j = 0; j < n; ++j) {
    double mx = -std::numeric_limits<double>::infinity();
    int64_t arg = 0;
    for (int64_t c = 0; c < classes; ++c) {
      const double v = logits[c * n + j];
      if (v > mx) {
        mx = v;
        arg = c;
      }
    }
    correct += arg == y[j];
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += (p[static_cast<size_t>(c)] = std::exp(logits[c * n + j] - mx));
    const double lse = mx + std::log(sum);
    double loss = lse - logits[y[j] * n + j];
    for (int64_t c = 0; c < classes; ++c) p[static_cast<size_t>(c)] /= sum;
    if (teacher) {
      // KL(softmax(t/T) ‖ softmax(s/T)) · T², gradient T·(q_s − q_t).
      double ms = -std::numeric_limits<double>::infinity(), mt = ms;
      for (int64_t c = 0; c < classes; ++c) {
        ms = std::max(ms, static_cast<double>(logits[c * n + j]) / temp);
        mt = std::max(mt, static_cast<double>(teacher[c * n + j]) / temp);
      }
      double ss = 0, st = 0;
      for (int64_t c = 0; c < classes; ++c) {
        ss += (qs[static_cast<size_t>(c)] = std::exp(logits[c * n + j] / temp - ms));
        st += (qt[static_cast<size_t>(c)] = std::exp(teacher[c * n + j] / temp - mt));
      }
      double kl = 0;
      for (int64_t c = 0; c < classes; ++c) {
        qs[static_cast<size_t>(c)] /= ss;
        qt[static_cast<size_t>(c)] /= st;
        const double lt = teacher[c * n + j] / temp - mt - std::log(st), ls = logits[c * n + j] / temp - ms - std::log(ss);
        kl += qt[static_cast<size_t>(c)] * (lt - ls);
      }
      loss = alpha * loss + (1 - alpha) * temp * temp * kl;
      for (int64_t c = 0; c < classes; ++c) {
        const double ce = p[static_cast<size_t>(c)] - (c == y[j] ? 1.0 : 0.0);
        const double kd = temp * (qs[static_cast<size_t>(c)] - qt[static_cast<size_t>(c)]);
        g[c * n + j] = static_cast<float>((alpha * ce + (1 - alpha) * kd) * inv_n);
      }
    } else {
      for (int64_t c = 0; c < classes; ++c)
        g[c * n + j] = static_cast<float>((p[static_cast<size_t>(c)] - (c == y[j] ? 1.0 : 0.0)) * inv_n);
    }
    total += loss;
  }
  return total;
}

}  // namespace

void gather_batch(const float* x, int64_t f, const int64_t* order, int64_t n, float* a) {
  // A transpose in 16-feature strips: per sample one cache line read, and the 16 output rows a
  // strip writes stay in L1 across consecutive samples.
  constexpr int64_t kStrip = 16;
  const int64_t strips = (f + kStrip - 1) / kStrip;
  parallel_for(strips, std::max<int64_t>(1, 1024 / std::max<int64_t>(1, n)), [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t k0 = s * kStrip, k1 = std::min(f, k0 + kStrip);
      for (int64_t j = 0; j < n; ++j) {
        const float* row = x + order[j] * f;
        for (int64_t k = k0; k < k1; ++k) a[k * n + j] = row[k];
      }
    }
  });
}


void masked_sgd(float* w, const float* g, float* v, const uint8_t* mask, int64_t count, float lr, float momentum,
                float wd, bool nesterov) {
  parallel_for(count, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const bool keep = mask == nullptr || mask[i] != 0;
      const float grad = g[i] + wd * w[i];
      const float vel = momentum * v[i] + grad;
      const float step = nesterov ? grad + momentum * vel : vel;
      w[i] = keep ? w[i] - lr * step : 0.0f;  // +0, not -0
      v[i] = keep ? vel : 0.0f;
    }
  });
}

namespace {

void accumulate_score(Criterion c, float* score, const float* w, const float* g, int64_t count, const int64_t* pos) {
  parallel_for(count, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t d = pos ? pos[i] : i;
      const float wi = pos ? w[i] : w[d], gi = g[i];
      float s = 0;
      switch (c) {
        case Criterion::kGradient: s = std::fabs(gi); break;
        case Criterion::kTaylor: s = std::fabs(wi * gi); break;
        case Criterion::kFisher: s = gi * gi; break;
        case Criterion::kMovement: s = -wi * gi; break;
        case Criterion::kNone: break;
      }
      score[d] += s;
    }
  });
}

// Every buffer an epoch needs for batches of up to `batch` samples.
struct Workspace {
  std::vector<std::vector<float>> act, drop, dw, db;
  std::vector<float> g0, g1;
  std::vector<std::vector<float>> teacher_act;
  Workspace(const std::vector<Layer>& layers, int64_t features, int64_t batch) {
    act.resize(layers.size() + 1);
    drop.resize(layers.size());
    dw.resize(layers.size());
    db.resize(layers.size());
    act[0].resize(static_cast<size_t>(features * batch));
    int64_t widest = features;
    for (size_t l = 0; l < layers.size(); ++l) {
      act[l + 1].resize(static_cast<size_t>(layers[l].out * batch));
      if (layers[l].dropout > 0) drop[l].resize(static_cast<size_t>(layers[l].out * batch));
      db[l].resize(static_cast<size_t>(layers[l].out));
      widest = std::max(widest, layers[l].out);
    }
    g0.resize(static_cast<size_t>(widest * batch));
    g1.resize(static_cast<size_t>(widest * batch));
  }
};

// The buffers of the last call on this thread in `slot` (0: inference, 1: training), reused when
// the shapes match: services call predict per request and trainers run epoch after epoch, and
// fresh buffers would be zero-filled and page-faulted in every call.
Workspace& reusable_workspace(const std::vector<Layer>& layers, int64_t features, int64_t batch, int slot) {
  thread_local std::unique_ptr<Workspace> reuse[2];
  thread_local std::vector<int64_t> reuse_key[2];
  std::vector<int64_t> key{features, batch};
  for (const Layer& l : layers) {
    key.push_back(l.out);
    key.push_back(l.dropout > 0);
  }
  if (!reuse[slot] || reuse_key[slot] != key) {
    reuse[slot].reset();  // free the old buffers first
    reuse[slot] = std::make_unique<Workspace>(layers, features, batch);
    reuse_key[slot] = key;
  }
  return *reuse[slot];
}

// Forward of the training step: activations in ws.act, dropout scales in ws.drop.
void forward_train(const std::vector<Layer>& layers, const std::vector<SparseState*>& sparse, int64_t n, Rng* rng,
                   Workspace& ws, const std::vector<CsrView>* cached = nullptr) {
  for (size_t l = 0; l < layers.size(); ++l) {
    float* z = ws.act[l + 1].data();
    CsrView view;
    const CsrView* v = nullptr;
    if (cached && (*cached)[l].ptr) v = &(*cached)[l];
    else if (sparse[l]) v = &(view = sparse[l]->view(layers[l]));
    affine(layers[l], v, ws.act[l].data(), n, z);
    if (rng && layers[l].act_abs) {
      for (int64_t r = 0; r < layers[l].out; ++r) {
        double sum = 0, zeros = 0;
        for (int64_t j = 0; j < n; ++j) {
          sum += std::fabs(z[r * n + j]);
          zeros += z[r * n + j] == 0.0f;
        }
        layers[l].act_abs[r] += sum;
        layers[l].act_zero[r] += zeros;
      }
    }
    const float p = layers[l].dropout;
    if (rng && p > 0 && l + 1 < layers.size()) {
      const float scale = 1.0f / (1.0f - p);
      float* d = ws.drop[l].data();
      for (int64_t i = 0; i < layers[l].out * n; ++i) {
        d[i] = rng->uniform() >= p ? scale : 0.0f;
        z[i] *= d[i];
      }
    }
  }
}

// Backward from g = dLoss/dlogits (in ws.g0): weight gradients into ws.dw (dense layers) or the
// sparse state's grad, bias gradients into ws.db.
void backward(const std::vector<Layer>& layers, const std::vector<SparseState*>& sparse, int64_t n, bool dropout,
              Workspace& ws, bool dense_grad = false) {
  const SparseKernels& sk = sparse_kernels(active_isa());
  float* g = ws.g0.data();
  float* other = ws.g1.data();
  for (size_t li = layers.size(); li-- > 0;) {
    const Layer& l = layers[li];
    const float* out = ws.act[li + 1].data();
    // Through dropout and ReLU (the last layer's output is the logits: neither applies).
    if (li + 1 < layers.size()) {
      const bool drop = dropout && l.dropout > 0;
      const float* d = drop ? ws.drop[li].data() : nullptr;
      for (int64_t i = 0; i < l.out * n; ++i) {
        float v = g[i];
        if (d) v *= d[i];
        if (l.relu && !(out[i] > 0)) v = 0;
        g[i] = v;
      }
    } else if (l.relu) {
      for (int64_t i = 0; i < l.out * n; ++i)
        if (!(out[i] > 0)) g[i] = 0;
    }
    float* db = ws.db[li].data();
    for (int64_t r = 0; r < l.out; ++r) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += g[r * n + j];
      db[r] = static_cast<float>(s);
    }
    const float* a = ws.act[li].data();
    SparseState* s = sparse[li];
    if (s) {
      csr_sddmm(sk, s->view(l), g, a, n, s->grad.data());
      if (dense_grad) {  // the gradient at every entry, pruned ones included (RigL's regrowth)
        ws.dw[li].resize(static_cast<size_t>(l.out * l.in));
        gemm(g, a, ws.dw[li].data(), l.out, n, l.in, false, true);
      }
      if (li > 0) {
        for (size_t p = 0; p < s->tperm.size(); ++p) s->tval[p] = s->val[static_cast<size_t>(s->tperm[p])];
        csr_spmm(sk, s->tview(l), g, n, other);
      }
    } else {
      ws.dw[li].resize(static_cast<size_t>(l.out * l.in));
      gemm(g, a, ws.dw[li].data(), l.out, n, l.in, false, true);
      if (li > 0) gemm(l.w, g, other, l.in, l.out, n, true, false);
    }
    std::swap(g, other);
  }
}

uint64_t mix(uint64_t a, uint64_t b) { return Rng(a * 0x9E3779B97F4A7C15ull ^ b).next(); }

// Dynamic sparse training: drop the `fraction` of each layer's kept weights with the smallest |w|
// and grow as many of the inactive ones, by largest |dense gradient| (RigL) or at random (SET);
// grown weights start at 0 with zero momentum. The kept count stays the same.
void drop_and_grow(std::vector<Layer>& layers, const std::vector<std::vector<float>>& dense_grads, double fraction,
                   bool random, Rng& rng) {
  for (size_t li = 0; li < layers.size(); ++li) {
    Layer& l = layers[li];
    if (l.frozen) continue;
    const int64_t size = l.in * l.out, kept = kept_count(l);
    const int64_t k = std::min<int64_t>(static_cast<int64_t>(fraction * static_cast<double>(kept)), size - kept);
    if (k <= 0 || kept == size) continue;
    std::vector<ScoreBuffer> drop{ScoreBuffer{l.w, size, l.mask, l.mask}};
    select_smallest(drop, k, NanPolicy::kPrune, true);
    std::vector<uint8_t> inactive(static_cast<size_t>(size)), chosen(static_cast<size_t>(size));
    std::vector<float> score(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) {
      inactive[static_cast<size_t>(i)] = l.mask[i] == 0;
      // Smallest first: the negated |gradient| (largest gradients grow), or a random key.
      score[static_cast<size_t>(i)] = random ? rng.uniform() : -std::fabs(dense_grads[li][static_cast<size_t>(i)]);
    }
    std::vector<ScoreBuffer> grow{ScoreBuffer{score.data(), size, inactive.data(), chosen.data()}};
    select_smallest(grow, k, NanPolicy::kPrune, false);
    for (int64_t i = 0; i < size; ++i)
      if (inactive[static_cast<size_t>(i)] && !chosen[static_cast<size_t>(i)]) {
        l.mask[i] = 1;
        l.w[i] = 0.0f;
        if (l.vw) l.vw[i] = 0.0f;
      }
    apply_mask(l);
  }
}

}  // namespace

RegrowSchedule::RegrowSchedule(const EpochConfig& cfg) : cfg_(cfg), rng_state_(mix(cfg.seed, 3)) {}

const RegrowEvent* RegrowSchedule::at(int64_t step) const {
  return next_ < cfg_.regrow.size() && cfg_.regrow[next_].step == step ? &cfg_.regrow[next_] : nullptr;
}

void RegrowSchedule::run(std::vector<Layer>& layers, const std::vector<std::vector<float>>& dense_grads) {
  const RegrowEvent& e = cfg_.regrow[next_];
  Rng rng(rng_state_);
  drop_and_grow(layers, dense_grads, e.fraction, e.random, rng);
  rng_state_ = rng.s;
  ++next_;
}

void RegrowSchedule::end_step(int64_t step) {
  while (next_ < cfg_.regrow.size() && cfg_.regrow[next_].step <= step) ++next_;
}

void prune_now(std::vector<Layer>& layers, const PruneEvent& event, Criterion criterion) {
  std::vector<size_t> chosen;
  for (size_t l = 0; l < layers.size(); ++l)
    if (l < event.target.size() && event.target[l] >= 0)
      chosen.push_back(l);
  if (chosen.empty()) return;
  const bool by_score = criterion != Criterion::kNone;
  const bool absolute = criterion != Criterion::kMovement;
  auto buffer = [&](size_t l) {
    Layer& ly = layers[l];
    if (by_score && !ly.score) throw_range_error("Expected score buffers for a pruning criterion other than magnitude");
    return ScoreBuffer{by_score ? ly.score : ly.w, ly.in * ly.out, ly.mask, ly.mask};
  };
  auto pruned_of = [&](size_t l) { return layers[l].in * layers[l].out - kept_count(layers[l]); };
  if (event.global) {
    std::vector<ScoreBuffer> buffers;
    int64_t total = 0, pruned = 0;
    for (size_t l : chosen) {
      buffers.push_back(buffer(l));
      total += layers[l].in * layers[l].out;
      pruned += pruned_of(l);
    }
    const int64_t k = std::max<int64_t>(0, std::llround(event.target[chosen[0]] * static_cast<double>(total)) - pruned);
    if (k > 0) select_smallest(buffers, std::min(k, total - pruned), NanPolicy::kPrune, absolute);
  } else {
    for (size_t l : chosen) {
      std::vector<ScoreBuffer> buffers{buffer(l)};
      const int64_t size = layers[l].in * layers[l].out, pruned = pruned_of(l);
      const int64_t k = std::max<int64_t>(0, std::llround(event.target[l] * static_cast<double>(size)) - pruned);
      if (k > 0) select_smallest(buffers, std::min(k, size - pruned), NanPolicy::kPrune, absolute);
    }
  }
  for (size_t l : chosen) apply_mask(layers[l]);
}

EventLog run_event(std::vector<Layer>& layers, const PruneEvent& event, Criterion criterion, int64_t step) {
  prune_now(layers, event, criterion);
  EventLog log;
  log.step = step;
  for (const Layer& l : layers)
    log.sparsity.push_back(1.0 - static_cast<double>(kept_count(l)) / static_cast<double>(std::max<int64_t>(1, l.in * l.out)));
  return log;
}

void log_validation(const std::vector<Layer>& layers, const EpochConfig& cfg, std::vector<EventLog>& events, size_t from) {
  if (!cfg.val_x || cfg.val_n <= 0 || from >= events.size()) return;
  const int64_t classes = layers.back().out;
  std::vector<float> logits(static_cast<size_t>(cfg.val_n * classes));
  predict(layers, cfg.val_x, cfg.val_n, 256, cfg.sparse_below, logits.data());
  int64_t right = 0;
  for (int64_t j = 0; j < cfg.val_n; ++j) {
    const float* row = logits.data() + j * classes;
    right += std::max_element(row, row + classes) - row == cfg.val_y[j];
  }
  for (size_t e = from; e < events.size(); ++e) events[e].accuracy = static_cast<double>(right) / static_cast<double>(cfg.val_n);
}

std::vector<int64_t> epoch_order(int64_t samples, uint64_t seed, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(samples));
  for (int64_t i = 0; i < samples; ++i) order[static_cast<size_t>(i)] = i;
  Rng rng(mix(seed, 1));
  if (shuffle)
    for (int64_t i = samples - 1; i > 0; --i)
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.next() % static_cast<uint64_t>(i + 1))]);
  return order;
}

EpochSteps::EpochSteps(std::vector<Layer>& layers, const EpochConfig& cfg, int64_t steps)
    : layers_(layers), cfg_(cfg), steps_(steps), start_(std::chrono::steady_clock::now()), last_report_(start_) {
  for (const PruneEvent& e : cfg.events) events_.push_back(&e);
  std::stable_sort(events_.begin(), events_.end(), [](const PruneEvent* a, const PruneEvent* b) { return a->step < b->step; });
}

bool EpochSteps::begin(int64_t step, const std::function<void()>& sync, const std::function<void()>& replan) {
  if (cfg_.abort_flag && __atomic_load_n(cfg_.abort_flag, __ATOMIC_ACQUIRE) != 0) {
    result_.aborted = true;
    return false;
  }
  if (step == cfg_.snapshot_step) {
    sync();
    for (size_t l = 0; l < layers_.size(); ++l) {
      std::copy(layers_[l].w, layers_[l].w + layers_[l].in * layers_[l].out, cfg_.snapshot[l]);
      if (l < cfg_.snapshot_bias.size() && cfg_.snapshot_bias[l] && layers_[l].b)
        std::copy(layers_[l].b, layers_[l].b + layers_[l].out, cfg_.snapshot_bias[l]);
    }
  }
  const size_t logged = result_.events.size();
  while (next_event_ < events_.size() && events_[next_event_]->step <= step) {
    if (logged == result_.events.size()) sync();
    result_.events.push_back(run_event(layers_, *events_[next_event_++], cfg_.criterion, step));
  }
  if (logged != result_.events.size()) {
    replan();
    log_validation(layers_, cfg_, result_.events, logged);
  }
  return true;
}

void EpochSteps::check_loss(double loss, int64_t step) {
  if (!std::isfinite(loss))
    throw_range_error("Training diverged: the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                      " at step " + std::to_string(step) + " of the epoch (the model is as after step " +
                      std::to_string(step - 1) + "); lower the learning rate");
}

void EpochSteps::end(int64_t step, int64_t n, double loss, int64_t correct) {
  loss_sum_ += loss;
  result_.steps = step + 1;
  result_.seen += n;
  result_.correct += correct;
  if (!cfg_.progress) return;
  const auto now = std::chrono::steady_clock::now();
  if (step + 1 == steps_ || std::chrono::duration<double, std::milli>(now - last_report_).count() >= cfg_.progress_ms) {
    last_report_ = now;
    Progress p;
    p.step = step + 1;
    p.steps = steps_;
    p.loss = loss_sum_ / static_cast<double>(result_.seen);
    p.samples_per_second = static_cast<double>(result_.seen) / std::chrono::duration<double>(now - start_).count();
    cfg_.progress(p);
  }
}

EpochResult EpochSteps::finish() {
  result_.loss = result_.seen ? loss_sum_ / static_cast<double>(result_.seen) : 0;
  return result_;
}

EpochResult run_epoch(std::vector<Layer>& layers, const EpochConfig& cfg) {
  const int64_t features = layers.front().in, classes = layers.back().out;
  const int64_t batch = std::min(cfg.batch, cfg.samples);
  const int64_t steps = (cfg.samples + batch - 1) / batch;
  Workspace& ws = reusable_workspace(layers, features, batch, 1);
  std::vector<SparseState> states(layers.size());
  std::vector<SparseState*> sparse(layers.size(), nullptr);
  auto plan_execution = [&] {
    for (size_t l = 0; l < layers.size(); ++l) {
      sparse[l] = runs_sparse(layers[l], cfg.sparse_below) ? &states[l] : nullptr;
      if (sparse[l]) build_sparse(layers[l], states[l]);
    }
  };
  auto sync_dense = [&] {
    for (size_t l = 0; l < layers.size(); ++l)
      if (sparse[l]) write_back(layers[l], states[l]);
  };
  for (Layer& l : layers) apply_mask(l);
  plan_execution();

  const std::vector<int64_t> order = epoch_order(cfg.samples, cfg.seed, cfg.shuffle);
  Rng dropout_rng(mix(cfg.seed, 2));
  RegrowSchedule regrowth(cfg);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> teacher_in;

  EpochSteps book(layers, cfg, steps);
  try {
    for (int64_t step = 0; step < steps; ++step) {
      if (!book.begin(step, sync_dense, plan_execution)) break;
      const int64_t first = step * batch, n = std::min(batch, cfg.samples - first);
      const int64_t* idx = order.data() + first;
      gather_batch(cfg.x, features, idx, n, ws.act[0].data());
      for (int64_t j = 0; j < n; ++j) labels[static_cast<size_t>(j)] = cfg.y[idx[j]];
      const RegrowEvent* regrow = regrowth.at(step);
      forward_train(layers, sparse, n, &dropout_rng, ws);
      const float* teacher = nullptr;
      if (cfg.teacher) {
        teacher_forward(*cfg.teacher, ws.act[0].data(), n, ws.teacher_act);
        teacher = ws.teacher_act.back().data();
      }
      int64_t correct = 0;
      const double loss = loss_and_grad(ws.act[layers.size()].data(), labels.data(), classes, n, ws.g0.data(), teacher,
                                        cfg.alpha, cfg.temperature, correct);
      EpochSteps::check_loss(loss, step);
      backward(layers, sparse, n, true, ws, regrow && !regrow->random);
      const float lr = cfg.lr[step];
      for (size_t l = 0; l < layers.size(); ++l) {
        Layer& ly = layers[l];
        SparseState* s = sparse[l];
        if (cfg.criterion != Criterion::kNone && ly.score) {
          if (s) accumulate_score(cfg.criterion, ly.score, s->val.data(), s->grad.data(), static_cast<int64_t>(s->pos.size()), s->pos.data());
          else accumulate_score(cfg.criterion, ly.score, ly.w, ws.dw[l].data(), ly.in * ly.out, nullptr);
        }
        if (ly.frozen) continue;
        if (s) masked_sgd(s->val.data(), s->grad.data(), s->vel.data(), nullptr, static_cast<int64_t>(s->val.size()), lr, cfg.momentum, cfg.weight_decay, cfg.nesterov);
        else masked_sgd(ly.w, ws.dw[l].data(), ly.vw, ly.mask, ly.in * ly.out, lr, cfg.momentum, cfg.weight_decay, cfg.nesterov);
        if (ly.b) masked_sgd(ly.b, ws.db[l].data(), ly.vb, nullptr, ly.out, lr, cfg.momentum, cfg.weight_decay, cfg.nesterov);
      }
      if (regrow) {
        sync_dense();
        regrowth.run(layers, ws.dw);
        plan_execution();
      }
      regrowth.end_step(step);
      book.end(step, n, loss, correct);
    }
  } catch (...) {
    sync_dense();
    throw;
  }
  sync_dense();
  EpochResult result = book.finish();
  for (size_t l = 0; l < layers.size(); ++l) result.sparse_layers.push_back(sparse[l] != nullptr);
  return result;
}

void predict(const std::vector<Layer>& layers, const float* x, int64_t n, int64_t batch, double sparse_below,
             float* logits, const std::vector<CsrView>* cached) {
  if (n == 0) return;
  const int64_t features = layers.front().in, classes = layers.back().out;
  batch = std::max<int64_t>(1, std::min(batch, n));
  Workspace& ws = reusable_workspace(layers, features, batch, 0);
  std::vector<SparseState> states(layers.size());
  std::vector<SparseState*> sparse(layers.size(), nullptr);
  for (size_t l = 0; l < layers.size(); ++l)
    if (!(cached && (*cached)[l].ptr) && runs_sparse(layers[l], sparse_below)) {
      build_sparse(layers[l], states[l]);
      sparse[l] = &states[l];
    }
  std::vector<int64_t> order(static_cast<size_t>(batch));
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t m = std::min(batch, n - first);
    for (int64_t j = 0; j < m; ++j) order[static_cast<size_t>(j)] = first + j;
    gather_batch(x, features, order.data(), m, ws.act[0].data());
    forward_train(layers, sparse, m, nullptr, ws, cached);
    const float* out = ws.act[layers.size()].data();
    for (int64_t j = 0; j < m; ++j)
      for (int64_t c = 0; c < classes; ++c) logits[(first + j) * classes + c] = out[c * m + j];
  }
}

double gradients(const std::vector<Layer>& layers, const float* x, const int32_t* y, int64_t n, bool use_sparse,
                 const std::vector<float*>& dw, const std::vector<float*>& db) {
  const int64_t features = layers.front().in, classes = layers.back().out;
  Workspace ws(layers, features, n);
  std::vector<SparseState> states(layers.size());
  std::vector<SparseState*> sparse(layers.size(), nullptr);
  for (size_t l = 0; l < layers.size(); ++l)
    if (use_sparse) {
      build_sparse(layers[l], states[l]);
      sparse[l] = &states[l];
    }
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) order[static_cast<size_t>(j)] = j;
  gather_batch(x, features, order.data(), n, ws.act[0].data());
  forward_train(layers, sparse, n, nullptr, ws);
  int64_t correct = 0;
  const double loss = loss_and_grad(ws.act[layers.size()].data(), y, classes, n, ws.g0.data(), nullptr, 1, 1, correct);
  backward(layers, sparse, n, false, ws);
  for (size_t l = 0; l < layers.size(); ++l) {
    const Layer& ly = layers[l];
    const int64_t size = ly.in * ly.out;
    if (sparse[l]) {
      std::fill(dw[l], dw[l] + size, 0.0f);
      for (size_t p = 0; p < states[l].pos.size(); ++p) dw[l][states[l].pos[p]] = states[l].grad[p];
    } else {
      for (int64_t i = 0; i < size; ++i) dw[l][i] = ly.mask[i] ? ws.dw[l][static_cast<size_t>(i)] : 0.0f;
    }
    std::copy(ws.db[l].begin(), ws.db[l].end(), db[l]);
  }
  return loss / static_cast<double>(n);
}

}  // namespace shears::cpu::train
